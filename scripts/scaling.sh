#!/usr/bin/env bash
# Bookings/s with 1, 2 and 3 nodes on one private PostgreSQL, on this
# machine (docs/SCALING.md). Each configuration gets a fresh database, 12
# shows of 20 rows x 999 seats and 64 sessions; then wrk (64 connections in
# all, one wrk process per node) sends durable one-shot bookings (a fresh
# key and a free seat each):
#   spread: every process books every show, so with N nodes about (N-1)/N
#           of the requests reach a node that forwards them to the owner;
#   direct: each process books only the shows its node owns (what a
#           partition-aware load balancer would do).
# Prints bookings/s, the worst p99 of the processes, non-2xx answers and
# PostgreSQL's commits/s and write rounds/s during the run.
#
#   scripts/scaling.sh [seconds per run, default 8]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-8}
PG_PORT=${PG_PORT:-15490}
BASE_PORT=${BASE_PORT:-18181}
ADMIN=scale-admin
DIR=$(mktemp -d)
chmod 755 "$DIR"
PIDS=()
stop_nodes() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
trap 'stop_nodes; scripts/pg.sh stop "$DIR/pg"; rm -rf "$DIR"' EXIT
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
cargo build --release --quiet
URL=$(scripts/pg.sh start "$DIR/pg" "$PG_PORT")
psql_() { psql -qtA -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"; }

echo "machine: $(nproc) cores, $(uname -srm); wrk: 64 connections in all, ${SECS}s a run; PostgreSQL $(psql_ -c 'SHOW server_version')"
printf '%-6s %-7s %12s %10s %8s %14s %16s\n' nodes mode bookings/s p99 non-2xx "pg commits/s" "write rounds/s"
for nodes in 1 2 3; do
  for mode in spread direct; do
    [ "$nodes" = 1 ] && [ "$mode" = direct ] && continue
    psql_ -c "DROP DATABASE IF EXISTS scale" -c "CREATE DATABASE scale" >/dev/null
    db="${URL%/*}/scale"
    for i in $(seq "$nodes"); do
      # A lease of 3 s: joining nodes get their share within seconds, and a
      # renewal delayed by the load (two cores, saturated) does not let a
      # lease lapse (at 1 s some did, and partitions moved mid-run).
      BOXOFFICE_ADMIN_TOKEN=$ADMIN BOXOFFICE_USER_RATE_LIMIT=0 BOXOFFICE_LEASE_MS=3000 RUST_LOG=warn \
        target/release/boxoffice serve --database-url "$db" --node-id "scale-$i" \
        --bind "127.0.0.1:$((BASE_PORT + i - 1))" --no-demo > "$DIR/node-$i.log" 2>&1 &
      PIDS+=($!)
      for _ in $(seq 100); do curl -fs "http://127.0.0.1:$((BASE_PORT + i - 1))/healthz" >/dev/null && break; sleep 0.1; done
    done
    # Wait for an even share: every node holds partitions.
    for _ in $(seq 300); do
      owners=$(psql_ scale -c "SELECT count(DISTINCT owner) FROM partitions WHERE owner IS NOT NULL AND lapse_at > now()")
      most=$(psql_ scale -c "SELECT coalesce(max(c), 0) FROM (SELECT count(*) c FROM partitions GROUP BY owner) t")
      [ "$owners" = "$nodes" ] && [ "$most" -le $(( (256 + nodes - 1) / nodes )) ] && break
      sleep 0.2
    done
    base="http://127.0.0.1:$BASE_PORT"
    rows=$(python3 -c 'import json;print(json.dumps([{"label":chr(65+i//26)+chr(65+i%26),"seats":999} for i in range(20)]))')
    : > "$DIR/shows"
    for s in $(seq 12); do
      curl -fs -X POST "$base/v1/shows" -H "Authorization: Bearer $ADMIN" -H "Idempotency-Key: show-$s" \
        -H 'Content-Type: application/json' \
        -d "{\"title\":\"Scale $s\",\"starts_at\":\"2030-01-01T20:00:00Z\",\"rows\":$rows}" \
        | python3 -c 'import sys,json;print(json.load(sys.stdin)["id"])' >> "$DIR/shows"
    done
    : > "$DIR/tokens"
    for _ in $(seq 64); do
      curl -fs -X POST "$base/v1/sessions" | python3 -c 'import sys,json;print(json.load(sys.stdin)["token"])' >> "$DIR/tokens"
    done
    # Each node's load directory: the tokens and the shows it books.
    for i in $(seq "$nodes"); do
      mkdir -p "$DIR/w$i"
      cp "$DIR/tokens" "$DIR/w$i/tokens"
      if [ "$mode" = spread ]; then
        cp "$DIR/shows" "$DIR/w$i/shows"
      else
        : > "$DIR/w$i/shows"
        while read -r show; do
          owner=$(curl -fs "$base/v1/cluster?show_id=$show" -H "Authorization: Bearer $ADMIN" \
            | python3 -c 'import sys,json;print(json.load(sys.stdin)["owner"])')
          [ "$owner" = "scale-$i" ] && echo "$show" >> "$DIR/w$i/shows"
        done < "$DIR/shows"
      fi
    done
    before=$(psql_ scale -c "SELECT xact_commit FROM pg_stat_database WHERE datname = 'scale'")
    rounds_before=$(psql_ scale -c "SELECT count(*) FROM commit_rounds")
    WPIDS=()
    for i in $(seq "$nodes"); do
      conns=$(( 64 / nodes + (i <= 64 % nodes ? 1 : 0) ))
      if [ ! -s "$DIR/w$i/shows" ]; then
        echo "   (node scale-$i owns none of the 12 shows: no load on it)" >&2
        continue
      fi
      # spread: the processes share the shows, so they take turns at the
      # seats; direct: each has shows of its own, every seat of them.
      procs=$nodes offset=$((i - 1))
      [ "$mode" = direct ] && procs=1 offset=0
      WRK_STATUSES=1 WRK_KEY_PREFIX="w$i" LOAD_DIR="$DIR/w$i" WRK_THREADS=1 WRK_PROCS="$procs" WRK_OFFSET="$offset" ROWS_PER_SHOW=20 \
        wrk -t1 -c"$conns" -d"${SECS}s" --latency -s scripts/wrk/book.lua \
        "http://127.0.0.1:$((BASE_PORT + i - 1))" > "$DIR/wrk-$i.txt" &
      WPIDS+=($!)
    done
    lost_before=$(cat "$DIR"/node-*.log | grep -c "lost partitions" || true)
    for pid in "${WPIDS[@]}"; do wait "$pid"; done
    lost=$(( $(cat "$DIR"/node-*.log | grep -c "lost partitions" || true) - lost_before ))
    [ "$lost" = 0 ] || echo "   (partitions changed owner during this run: $lost times)" >&2
    sleep 1 # PostgreSQL reports a backend's statistics up to a second late
    after=$(psql_ scale -c "SELECT xact_commit FROM pg_stat_database WHERE datname = 'scale'")
    rounds_after=$(psql_ scale -c "SELECT count(*) FROM commit_rounds")
    python3 - "$DIR" "$nodes" "$mode" "$SECS" "$before" "$after" "$rounds_before" "$rounds_after" <<'PY'
import glob, re, sys
d, nodes, mode, secs = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
c0, c1, w0, w1 = map(int, sys.argv[5:9])
rps, p99, errors = 0.0, 0.0, 0
def ms(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
for path in glob.glob(f"{d}/wrk-*.txt"):
    text = open(path).read()
    rps += float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    p99 = max(p99, ms(re.search(r"\s99%\s+(\S+)", text).group(1)))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors += int(m.group(1)) if m else 0
statuses = {}
for path in glob.glob(f"{d}/wrk-*.txt"):
    for status, count in re.findall(r"status (\d+): (\d+)", open(path).read()):
        statuses[status] = statuses.get(status, 0) + int(count)
refused = ", ".join(f"{s}: {c}" for s, c in sorted(statuses.items()))
print(f"{nodes:<6} {mode:<7} {rps:12.0f} {p99:8.1f}ms {errors:8d} {(c1 - c0) / secs:14.0f} {(w1 - w0) / secs:16.0f}"
      + (f"   ({refused})" if refused else ""))
PY
    rm -f "$DIR"/wrk-*.txt
    stop_nodes
  done
done
