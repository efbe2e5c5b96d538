#!/usr/bin/env bash
# The API contract, tried by real clients against a running local API (called by scripts/test.sh,
# or by hand: `scripts/contract.sh URL ADMIN_USERNAME ADMIN_PASSWORD`):
#   1. Schemathesis (schemathesis.toml, tests/contract/hooks.py): every operation of
#      docs/openapi.json, all checks, as an admin (who may call every route).
#   2. newman: the Postman collection's user story, with its tests.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$root"
url="$1" admin="$2" password="$3"
mkdir -p target/schemathesis

step() { printf '\n== %s\n' "$*"; }

step "Schemathesis against $url"
API_TOKEN=$(curl -sf -X POST "$url/auth/login" -H 'content-type: application/json' \
  -d "{\"username\":\"$admin\",\"password\":\"$password\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
export API_TOKEN
st run docs/openapi.json --url "$url" --checks all --no-color --report json \
  --report-json-path target/schemathesis/report.json | tee target/schemathesis/run.log | tail -40
python3 - <<'PY'
import json
r = json.load(open("target/schemathesis/report.json"))
t = r.get("test_cases", {})
print(f"schemathesis: {t.get('generated', 0)} cases generated, {t.get('with_failures', 0)} with failures")
PY
