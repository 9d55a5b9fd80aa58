#!/usr/bin/env bash
# The OpenAPI document as the server generates it (`boxoffice openapi`),
# checked by two independent tools: openapi-spec-validator (PyPI) and
# Redocly's linter (npm `@redocly/cli`, recommended rules). Both must
# report no error and no warning; the few problems left on purpose are
# listed, with the reason, in .redocly.lint-ignore.yaml.
#
#   scripts/openapi-lint.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v openapi-spec-validator >/dev/null || python3 -m pip install --quiet openapi-spec-validator
[ -x node_modules/.bin/redocly ] || npm ci --no-audit --no-fund
cargo build --quiet
mkdir -p target
# The binary is where cargo put it (CARGO_TARGET_DIR, when set); the
# document stays at target/openapi.json, the path .redocly.lint-ignore.yaml names.
"${CARGO_TARGET_DIR:-target}/debug/boxoffice" openapi > target/openapi.json
openapi-spec-validator target/openapi.json
out=$(node_modules/.bin/redocly lint target/openapi.json 2>&1) || { echo "$out"; exit 1; }
echo "$out" | tail -2
# Redocly sums up as "You have N warnings." when it found any.
if echo "$out" | grep -qE "You have [0-9]+ (warning|error)"; then
  echo "$out"
  echo "redocly lint reported warnings" >&2
  exit 1
fi
