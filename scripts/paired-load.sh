#!/usr/bin/env bash
# Paired load runs: scripts/load.sh against each build in turn, N rounds, so
# builds are compared in the same minutes on a machine whose speed drifts.
# One line per run: healthz, bookings (with p99) and replays req/s, then
# what a booking cost (records, bytes, server CPU, data directory, cores,
# RSS), then flushes and syncs per second and bookings per sync.
#
#   scripts/paired-load.sh 3 /tmp/boxoffice-before target/release/boxoffice
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:?rounds}; shift
[ $# -gt 0 ] || { echo "usage: $0 ROUNDS BIN..." >&2; exit 2; }
for round in $(seq "$rounds"); do
  for bin in "$@"; do
    out=$(BIN=$bin scripts/load.sh "${SECONDS_PER_RUN:-5}" 2>&1)
    rates=$(awk '$1=="healthz"{h=$2} $1=="bookings"{b=$2; p=$7} $1=="replays"{r=$2}
      END {print "healthz", h, "bookings", b, "p99", p, "replays", r}' <<< "$out")
    costs=$(grep '^per booking' <<< "$out" | sed 's/per booking: //')
    durability=$(grep '^durability' <<< "$out" | sed 's/durability: //')
    batches=$(awk -F': ' '/^write sets per transaction/ {w=$2} /^transactions per flush/ {f=$2}
      END {print "write sets per round", w, "rounds per flush", f}' <<< "$out")
    echo "$bin round $round: $rates | $costs | $durability | $batches"
  done
done
