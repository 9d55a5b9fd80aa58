#!/usr/bin/env bash
# sled's own test suites, run against boxoffice's copy (vendor/sled): the
# library's unit tests and tests/ (tree, failpoints, crash recovery, log,
# quiescent, space leaks) with `--features testing` (event log, lock-free
# delays, failpoints, nodes split at two items). About three minutes on two
# cores. The copy has a Cargo.lock of its own (the release's), and builds
# in target/sled-suites so it does not disturb the project's build.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="$PWD/target/sled-suites"
trap 'rm -rf vendor/sled/my_new_db vendor/sled/my_old_db' EXIT
cargo test --locked --manifest-path vendor/sled/Cargo.toml --features testing "$@"
