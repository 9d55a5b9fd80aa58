#!/usr/bin/env bash
# Takeover times (docs/SCALING.md): how long after kill -9 or SIGSTOP of the
# node owning a show another node serves it, against lease_ms. Runs
# `boxoffice simulate --cluster 3` (release build) on a private PostgreSQL
# with a churn crowd, the faults alternating, one run per lease; prints
# min / median / max of each fault's "served again" time.
#
#   scripts/takeover-times.sh [seconds per run, default 40] [leases, default "1000 2000"]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-40}
LEASES=${2:-1000 2000}
PG_PORT=${PG_PORT:-15491}
DIR=$(mktemp -d)
chmod 755 "$DIR"
trap 'scripts/pg.sh stop "$DIR/pg"; rm -rf "$DIR"' EXIT
cargo build --release --quiet
URL=$(scripts/pg.sh start "$DIR/pg" "$PG_PORT")
for lease in $LEASES; do
  psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "DROP DATABASE IF EXISTS run" -c "CREATE DATABASE run" >/dev/null
  every=$(awk "BEGIN { print 2 * $lease / 1000 }")
  target/release/boxoffice simulate --cluster 3 --database-url "${URL%/*}/run" \
    --scenario churn --users 150 --rows 4 --seats-per-row 10 --lease-ms "$lease" \
    --duration-secs "$SECS" --fault-every-secs "$every" --cluster-faults kill,pause \
    --quiet > "$DIR/out-$lease" 2> "$DIR/err-$lease" || true
  grep -q "^checker: no violation" "$DIR/out-$lease" || { echo "lease $lease: the checker found violations"; cat "$DIR/out-$lease"; }
  python3 - "$lease" "$DIR/out-$lease" <<'PY'
import re, statistics, sys
lease, path = int(sys.argv[1]), sys.argv[2]
times = {"kill -9": [], "pause": []}
for line in open(path):
    m = re.match(r"\| fault: (kill -9|pause) of \S+ \| lasted [\d.]+ s, (?:served again after ([\d.]+) s|not served again)", line)
    if m:
        times[m.group(1)].append(float(m.group(2)) if m.group(2) else float("inf"))
for fault, t in times.items():
    if t:
        print(f"lease_ms {lease}: {fault:8} n={len(t)}  min {min(t):.2f} s  median {statistics.median(t):.2f} s  "
              f"max {max(t):.2f} s  (3 x lease = {3 * lease / 1000:.0f} s)")
PY
done
