#!/usr/bin/env bash
# The PostgreSQL store against sled and against its own batch-of-one
# (classic: one transaction per request) mode, in one run on one machine:
# scripts/load.sh for each of the three, interleaved, ROUNDS times; prints
# every run, then the medians and the ratios of issue 13.
#
#   scripts/compare-stores.sh [seconds per run, default 10] [rounds, default 3]
#   BIN=/tmp/boxoffice-a scripts/compare-stores.sh   # measure that build
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-10}
ROUNDS=${2:-3}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
if [ -z "${BIN:-}" ]; then cargo build --release --quiet; export BIN=$PWD/target/release/boxoffice; fi
export BIN

for round in $(seq "$ROUNDS"); do
  for mode in sled group classic; do
    case $mode in
      sled) env STORE=sled scripts/load.sh "$SECONDS_PER_RUN" ;;
      group) env STORE=postgres scripts/load.sh "$SECONDS_PER_RUN" ;;
      classic) env STORE=postgres PG_BATCH=1 PG_COMMITTERS=16 scripts/load.sh "$SECONDS_PER_RUN" ;;
    esac > "$OUT/$mode.$round.txt" 2>&1
    echo "--- round $round, $mode"
    grep -Ev '^(data directory|healthz)' "$OUT/$mode.$round.txt"
  done
done

python3 - "$OUT" "$ROUNDS" <<'PY'
import re, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])

def ms(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

def runs(mode):
    found = []
    for r in range(1, rounds + 1):
        text = open(f"{out}/{mode}.{r}.txt").read()
        row = {}
        for name in ("bookings", "replays"):
            m = re.search(rf"^{name}\s+([\d.]+) req/s\s+p50\s+(\S+)\s+p99\s+(\S+)", text, re.M)
            row[name] = (float(m.group(1)), ms(m.group(3)))
        found.append(row)
    return found

med = {}
print()
print(f"medians over {rounds} rounds      bookings/s   p99 ms   replays/s   p99 ms")
for mode in ("sled", "group", "classic"):
    rs = runs(mode)
    m = {n: (statistics.median(r[n][0] for r in rs), statistics.median(r[n][1] for r in rs))
         for n in ("bookings", "replays")}
    med[mode] = m
    label = {"sled": "sled", "group": "postgres (group commit)", "classic": "postgres (batch of one)"}[mode]
    print(f"{label:28} {m['bookings'][0]:10.0f} {m['bookings'][1]:8.1f} {m['replays'][0]:11.0f} {m['replays'][1]:8.1f}")
g, s, c = med["group"], med["sled"], med["classic"]
print(f"postgres / sled bookings     = {g['bookings'][0] / s['bookings'][0]:.2f}  (target >= 0.6)")
print(f"group / batch-of-one         = {g['bookings'][0] / c['bookings'][0]:.2f}  (target >= 5)")
print(f"postgres replays / bookings  = {g['replays'][0] / g['bookings'][0]:.2f}  (target >= 1)")
print(f"postgres bookings p99        = {g['bookings'][1]:.1f} ms  (target < 20)")
PY
