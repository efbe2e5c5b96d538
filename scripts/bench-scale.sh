#!/usr/bin/env bash
# `make bench-scale [N=1000000] [REAL_N=100000]`: the dispatcher at a million reminders due in one
# minute, simulated (functions/dispatcher/src/bin/bench-scale.rs: the dispatcher's code and the
# SDK against a stand-in with DynamoDB's per-partition limits and an in-region latency, on a
# simulated clock), once as one run a minute and once as the template's eight; then REAL_N
# reminders fired for real on DynamoDB Local by eight runs at once (exactly once checked).
# Appends both tables to docs/BENCHMARKS.md.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
setup
cd "$root"
mkdir -p target
cargo build --release --quiet -p dispatcher --features bench --bin bench-scale --bin bench-dispatch
target/release/bench-scale "${N:-1000000}" "1,8" | tee target/bench-scale.txt
DDB_PORT="$(free_port)"
start_dynamodb "$DDB_PORT" target/dynamodb-local-scale.log
trap 'kill $DDB_PID 2>/dev/null || true' EXIT
# DynamoDB Local's pauses are not faults: longer timeouts, as scripts/bench-dispatch.sh says.
GROUPS=8 DELIVER=0 DYNAMODB_ATTEMPT_TIMEOUT_MS=5000 DYNAMODB_OPERATION_TIMEOUT_MS=15000 \
  DYNAMODB_ENDPOINT="http://127.0.0.1:$DDB_PORT" target/release/bench-dispatch "${REAL_N:-100000}" 64 | tee target/bench-scale-real.txt
{ printf '\n## A million reminders in one minute (`make bench-scale`, simulated)\n\n'; grep '^|' target/bench-scale.txt
  printf '\n### For real on DynamoDB Local: eight runs at once\n\n'; grep '^|' target/bench-scale-real.txt; } >> docs/BENCHMARKS.md
printf '\nappended to docs/BENCHMARKS.md; the analysis is in docs/REMINDERS.md\n'
