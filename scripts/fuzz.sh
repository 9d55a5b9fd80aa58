#!/usr/bin/env bash
# Runs each cargo-fuzz target for a while (libFuzzer, address sanitizer).
# The toolchain here is stable; RUSTC_BOOTSTRAP lets cargo-fuzz use the
# nightly flags it needs. Needs `cargo install cargo-fuzz --locked`.
#
#   scripts/fuzz.sh [seconds per target, default 60]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECONDS_EACH=${1:-60}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for target in idempotency_key record_codec seat_label request_body; do
  echo "== $target"
  RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" -- -max_total_time="$SECONDS_EACH" 2>&1 | grep -E "^Done|ERROR|SUMMARY"
done
