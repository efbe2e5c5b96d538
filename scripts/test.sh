#!/usr/bin/env bash
# `make test`: every test and check. Installs what is missing, starts its own DynamoDB Local on a
# free port, and stops it at the end.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
setup
cd "$root"
step() { printf '\n== %s\n' "$*"; }

step "format";  cargo fmt --all -- --check
step "clippy";  cargo clippy --workspace --all-targets --quiet -- -D warnings
step "template (cfn-lint)"; cfn-lint infra/template.yaml

DDB_PORT="$(free_port)"
mkdir -p target
start_dynamodb "$DDB_PORT" target/dynamodb-local-test.log
WATCH_PID=""
cleanup() { [ -n "$WATCH_PID" ] && kill -- -"$WATCH_PID" 2>/dev/null; kill "$DDB_PID" 2>/dev/null || true; }
trap cleanup EXIT
export DYNAMODB_ENDPOINT="http://127.0.0.1:$DDB_PORT"

step "unit and integration tests (DynamoDB Local at $DYNAMODB_ENDPOINT)"
cargo test --workspace 2>&1 | tee target/cargo-test.log
cargo_passed=$(grep -Eo '^test result: ok\. [0-9]+ passed' target/cargo-test.log | awk '{s+=$4} END {print s+0}')

step "end-to-end: cargo lambda watch + HTTP client"
TABLE="e2e-$(date +%s)"
cargo build --quiet -p auth -p users -p habits -p categories -p reminders -p dispatcher -p challenges
TABLE_NAME="$TABLE" target/debug/habit-admin create-table
TABLE_NAME="$TABLE" ADMIN_PASSWORD="e2e-admin-password" target/debug/habit-admin create-admin e2eadmin e2eadmin@example.com
API_PORT="$(free_port)"
setsid cargo lambda watch --invoke-port "$API_PORT" --invoke-address 127.0.0.1 \
  --env-vars "$(function_env "$DYNAMODB_ENDPOINT" "$TABLE"),ACCESS_TOKEN_TTL_SECONDS=3600" >target/watch.log 2>&1 &
WATCH_PID=$!
wait_for "http://127.0.0.1:$API_PORT/health" 300 || { tail -50 target/watch.log; exit 1; }
python3 tests/e2e/smoke.py "http://127.0.0.1:$API_PORT" e2eadmin e2e-admin-password | tee target/e2e.log
e2e_passed=$(grep -Eo '^e2e: [0-9]+ passed' target/e2e.log | awk '{print $2}')

step "contract: Postman collection (newman) and Schemathesis against the same API"
scripts/contract.sh "http://127.0.0.1:$API_PORT" e2eadmin e2e-admin-password | tee target/contract.log
newman_passed=$(grep -Eo '^newman: [0-9]+ passed' target/contract.log | awk '{print $2}')
printf '\nmake test: %s passed, 0 failed\n' "$((cargo_passed + e2e_passed + newman_passed))"
