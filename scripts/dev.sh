#!/usr/bin/env bash
# `make dev`: installs what is missing, starts DynamoDB Local (port 8000, in memory), creates the
# table and a first admin, serves every function with `cargo lambda watch` on
# http://localhost:9000 with the same paths API Gateway serves, and plays the template's other
# triggers against it (scripts/triggers.py: the dispatcher every minute). Ctrl-C stops everything.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
setup
DDB_PORT="${DDB_PORT:-8000}"
TABLE="${TABLE_NAME:-habit-tracker}"
ENDPOINT="http://127.0.0.1:$DDB_PORT"
mkdir -p "$root/target"
start_dynamodb "$DDB_PORT" "$root/target/dynamodb-local.log"
start_ses "${SES_PORT:-8005}" "$root/target/ses-local.log"
TRIGGERS_PID=""
trap 'kill $DDB_PID $SES_PID $TRIGGERS_PID 2>/dev/null || true' EXIT
cd "$root"
python3 scripts/triggers.py check
cargo build --quiet -p auth --bin habit-admin
TABLE_NAME="$TABLE" DYNAMODB_ENDPOINT="$ENDPOINT" target/debug/habit-admin create-table
TABLE_NAME="$TABLE" DYNAMODB_ENDPOINT="$ENDPOINT" ADMIN_PASSWORD="${ADMIN_PASSWORD:-admin-password-change-me}" \
  target/debug/habit-admin create-admin "${ADMIN_USERNAME:-admin}" "${ADMIN_EMAIL:-admin@example.com}"
echo "admin login: ${ADMIN_USERNAME:-admin} / ${ADMIN_PASSWORD:-admin-password-change-me}"
echo "API: http://localhost:${PORT:-9000}  (try: curl http://localhost:${PORT:-9000}/health)"
echo "mail the API sent (verification and reset links): $SES_ENDPOINT"
python3 scripts/triggers.py run --api "http://127.0.0.1:${PORT:-9000}" --dynamodb "$ENDPOINT" --table "$TABLE" &
TRIGGERS_PID=$!
cargo lambda watch --invoke-port "${PORT:-9000}" --env-vars "$(function_env "$ENDPOINT" "$TABLE")"
