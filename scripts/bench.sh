#!/usr/bin/env bash
# `make bench`: release builds, a DynamoDB Local of its own, then scripts/bench.py (cold start,
# warm requests through the runtime API, binary sizes) writing docs/BENCHMARKS.md; then the
# reminder dispatch benchmark.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
setup
cd "$root"
cargo build --release --quiet -p auth -p users -p habits -p categories -p reminders -p challenges -p dispatcher -p deliver -p habit-tests --bins --features dispatcher/bench
DDB_PORT="$(free_port)"
mkdir -p target
start_dynamodb "$DDB_PORT" target/dynamodb-local-bench.log
start_ses "$(free_port)" target/ses-local-bench.log
trap 'kill $DDB_PID $SES_PID 2>/dev/null || true' EXIT
DYNAMODB_ENDPOINT="http://127.0.0.1:$DDB_PORT" python3 scripts/bench.py docs/BENCHMARKS.md
# Longer DynamoDB timeouts for the emulator, as scripts/bench-dispatch.sh says.
DYNAMODB_ATTEMPT_TIMEOUT_MS=5000 DYNAMODB_OPERATION_TIMEOUT_MS=15000 SES_ENDPOINT="$SES_ENDPOINT" \
  DYNAMODB_ENDPOINT="http://127.0.0.1:$DDB_PORT" target/release/bench-dispatch "${N:-10000}" "${CONCURRENCY:-64}" | tee target/bench-dispatch.txt
{ printf '\n## Reminder dispatch (`make bench-dispatch`, same run)\n\n'; grep '^|' target/bench-dispatch.txt; } >> docs/BENCHMARKS.md
{ printf '\n## DynamoDB calls per endpoint (`tests/tests/api/call_budget.rs`, counted by an SDK interceptor; part of `make test`)\n\n'
  DYNAMODB_ENDPOINT="http://127.0.0.1:$DDB_PORT" cargo test -q -p habit-tests --test api call_budget:: -- --nocapture 2>/dev/null | grep '^|'; } >> docs/BENCHMARKS.md
printf '\nwrote docs/BENCHMARKS.md; the analysis is in docs/PERFORMANCE.md\n'
