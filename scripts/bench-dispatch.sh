#!/usr/bin/env bash
# `make bench-dispatch [N=10000] [CONCURRENCY=64]`: loads N due reminders into a DynamoDB Local it
# starts, runs the dispatcher once (release build) and prints fired/s, DynamoDB calls per reminder
# and whether every reminder fired exactly once; then delivers them (webhooks, Web Push, e-mail
# through a local SES it starts) and prints delivered/s and whether each arrived exactly once.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
setup
cd "$root"
DDB_PORT="$(free_port)"
mkdir -p target
start_dynamodb "$DDB_PORT" target/dynamodb-local-bench.log
start_ses "$(free_port)" target/ses-local-bench.log
trap 'kill $DDB_PID $SES_PID 2>/dev/null || true' EXIT
cargo build --release --quiet -p dispatcher --features bench --bin bench-dispatch
# DynamoDB Local answers in milliseconds to seconds where DynamoDB answers in single-digit
# milliseconds: longer timeouts than the functions' defaults, or the emulator's pauses count as faults.
DYNAMODB_ATTEMPT_TIMEOUT_MS="${DYNAMODB_ATTEMPT_TIMEOUT_MS:-5000}" DYNAMODB_OPERATION_TIMEOUT_MS="${DYNAMODB_OPERATION_TIMEOUT_MS:-15000}" \
  DYNAMODB_ENDPOINT="http://127.0.0.1:$DDB_PORT" target/release/bench-dispatch "${N:-10000}" "${CONCURRENCY:-64}"
