#!/usr/bin/env bash
# Property-based API run: schemathesis (PyPI) generates requests from the
# server's own /openapi.json and fails on any server error (5xx). Starts a
# server (the debug binary, built if needed) on a temporary data directory.
#
#   scripts/schemathesis.sh [max examples per operation, default 20]
set -euo pipefail
cd "$(dirname "$0")/.."
EXAMPLES=${1:-20}
PORT=${PORT:-18082}
BASE="http://127.0.0.1:$PORT"
DIR=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$DIR"' EXIT
command -v st >/dev/null || python3 -m pip install --quiet schemathesis
cargo build --quiet
BOXOFFICE_ADMIN_TOKEN=schemathesis-admin BOXOFFICE_USER_RATE_LIMIT=0 RUST_LOG=warn \
  target/debug/boxoffice serve --bind 127.0.0.1:$PORT --data-dir "$DIR/data" > /dev/null &
SERVER=$!
for _ in $(seq 100); do curl -fs "$BASE/healthz" >/dev/null && break; sleep 0.1; done
st run "$BASE/openapi.json" --url "$BASE" \
  -H "Authorization: Bearer schemathesis-admin" \
  --checks not_a_server_error --max-examples "$EXAMPLES" --seed 1
