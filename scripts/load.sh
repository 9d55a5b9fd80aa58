#!/usr/bin/env bash
# Load run: starts a release server on a fresh data directory, prepares
# shows and sessions, then measures with wrk (64 connections, 2 threads):
# GET /healthz, durable one-shot bookings (fresh key, free seat each) and
# idempotent replays. Prints req/s, p50/p99 and the ratios of issue 5.
#
#   scripts/load.sh [seconds per run, default 10]
#   PROFILE=/tmp/perf.data scripts/load.sh 5   # also profile the bookings run
#   PROFILE=/tmp/perf.data PROFILE_RUN=replays scripts/load.sh 5   # ... or the replays run
#   KEEP_DIR=1 scripts/load.sh 5   # keep the data directory (printed) to inspect
#   BIN=/tmp/boxoffice-a scripts/load.sh 5   # measure that build (A/B runs)
#   STORE=postgres scripts/load.sh 5   # on a private PostgreSQL (scripts/pg.sh)
#   STORE=postgres PG_BATCH=1 PG_COMMITTERS=16 scripts/load.sh 5   # one transaction a request
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-10}
PORT=${PORT:-18080}
BASE="http://127.0.0.1:$PORT"
ADMIN=load-admin
export LOAD_DIR=$(mktemp -d)
export WRK_THREADS=2
trap 'kill ${SERVER:-} 2>/dev/null || true; wait ${SERVER:-} 2>/dev/null || true; [ "${STORE:-sled}" = postgres ] && scripts/pg.sh stop "$LOAD_DIR/pg"; [ -n "${KEEP_DIR:-}" ] || rm -rf "$LOAD_DIR"' EXIT

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
BIN=${BIN:-}
if [ -z "$BIN" ]; then cargo build --release --quiet; BIN=target/release/boxoffice; fi
STORE_ARGS=(--data-dir "$LOAD_DIR/data")
if [ "${STORE:-sled}" = postgres ]; then
  chmod 755 "$LOAD_DIR"   # the postgres user works below it
  DATABASE_URL=$(scripts/pg.sh start "$LOAD_DIR/pg" "${PG_PORT:-15433}")
  STORE_ARGS=(--database-url "$DATABASE_URL")
  export BOXOFFICE_POSTGRES_MAX_BATCH=${PG_BATCH:-512}
  export BOXOFFICE_POSTGRES_COMMITTERS=${PG_COMMITTERS:-2}
  export BOXOFFICE_POSTGRES_POOL_SIZE=${PG_POOL:-$(( ${PG_COMMITTERS:-2} + 16 ))}
fi
BOXOFFICE_ADMIN_TOKEN=$ADMIN BOXOFFICE_USER_RATE_LIMIT=0 RUST_LOG=warn \
  "$BIN" serve --bind 127.0.0.1:$PORT "${STORE_ARGS[@]}" --no-demo \
  > "$LOAD_DIR/server.out" &
SERVER=$!
for _ in $(seq 100); do curl -fs "$BASE/healthz" >/dev/null && break; sleep 0.1; done

# Four shows of 100 rows x 999 seats: room for 399,600 bookings.
rows=$(python3 -c 'import json;print(json.dumps([{"label":chr(65+i//26)+chr(65+i%26),"seats":999} for i in range(100)]))')
for i in 1 2 3 4; do
  curl -fs -X POST "$BASE/v1/shows" -H "Authorization: Bearer $ADMIN" -H "Idempotency-Key: show-$i" \
    -H 'Content-Type: application/json' \
    -d "{\"title\":\"Load $i\",\"starts_at\":\"2030-01-01T20:00:00Z\",\"rows\":$rows}" \
    | python3 -c 'import sys,json;print(json.load(sys.stdin)["id"])' >> "$LOAD_DIR/shows"
done
curl -fs -X POST "$BASE/v1/shows" -H "Authorization: Bearer $ADMIN" -H "Idempotency-Key: replay-show" \
  -H 'Content-Type: application/json' \
  -d '{"title":"Replay","starts_at":"2030-01-01T20:00:00Z","rows":[{"label":"A","seats":1}]}' \
  | python3 -c 'import sys,json;print(json.load(sys.stdin)["id"])' > "$LOAD_DIR/replay_show"
for _ in $(seq 64); do
  curl -fs -X POST "$BASE/v1/sessions" | python3 -c 'import sys,json;print(json.load(sys.stdin)["token"])' >> "$LOAD_DIR/tokens"
done

run() { # name, wrk args...
  local name=$1; shift
  wrk -t$WRK_THREADS -c64 -d${SECONDS_PER_RUN}s --latency "$@" > "$LOAD_DIR/$name.txt"
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' "$LOAD_DIR/$name.txt")
  p50=$(awk '$1=="50%" {print $2}' "$LOAD_DIR/$name.txt")
  p99=$(awk '$1=="99%" {print $2}' "$LOAD_DIR/$name.txt")
  errors=$(awk '/Non-2xx/ {print $5}' "$LOAD_DIR/$name.txt")
  printf '%-9s %10s req/s   p50 %8s   p99 %8s   non-2xx %s\n' "$name" "$rps" "$p50" "$p99" "${errors:-0}"
  echo "$rps" > "$LOAD_DIR/$name.rps"
}

echo "data directory: $LOAD_DIR"
echo "machine: $(nproc) cores, $(uname -srm); wrk -t$WRK_THREADS -c64 -d${SECONDS_PER_RUN}s; store ${STORE:-sled}"
run healthz "$BASE/healthz"
profile() { # name: record a call-graph profile of the server for that run
  [ -n "${PROFILE:-}" ] && [ "${PROFILE_RUN:-bookings}" = "$1" ] || return 0
  # PROFILE=perf.data: a call-graph profile of the server for the length of
  # the run named by PROFILE_RUN (`perf report -i perf.data`).
  perf record -F 999 -g -o "$PROFILE" -p $SERVER -- sleep "$SECONDS_PER_RUN" 2>/dev/null &
  PERF=$!
}
pg_counts() { # commits and rows written so far, PostgreSQL's own count
  [ "${STORE:-sled}" = postgres ] || return 0
  psql -qtA -F' ' -h 127.0.0.1 -p "${PG_PORT:-15433}" -U postgres boxoffice -c "
    SELECT xact_commit, tup_inserted + tup_updated + tup_deleted,
      (SELECT count(*) FROM commit_rounds)
    FROM pg_stat_database WHERE datname = 'boxoffice'"
}
# What the bookings run costs (issue 18): bookings, store records and
# bytes, the server's CPU ticks (utime + stime of /proc/PID/stat), the data
# directory's size, the context switches of the server's threads (those
# alive at both ends of the run).
costs() {
  local page
  page=$(curl -fs "$BASE/metrics")
  printf '%s %s %s %s %s %s %s %s\n' \
    "$(awk '$1=="boxoffice_bookings_total" {print $2}' <<< "$page")" \
    "$(awk '$1=="boxoffice_store_records_written_total" {print $2}' <<< "$page")" \
    "$(awk '$1=="boxoffice_store_bytes_written_total" {print $2}' <<< "$page")" \
    "$(awk '{print $14 + $15}' "/proc/$SERVER/stat")" \
    "$(du -sb "$LOAD_DIR/data" 2>/dev/null | cut -f1 || echo 0)" \
    "$(cat /proc/$SERVER/task/*/status 2>/dev/null | awk '/ctxt_switches/ {n += $2} END {print n + 0}')" \
    "$(awk '$1=="boxoffice_store_flushes_total" {print $2}' <<< "$page")" \
    "$(awk '$1=="boxoffice_store_syncs_total" {f=$2} END {print f == "" ? -1 : f}' <<< "$page")"
}
PG_BEFORE=$(pg_counts)
COST_BEFORE=$(costs)
profile bookings
run bookings -s scripts/wrk/book.lua "$BASE"
COST_AFTER=$(costs)
PG_AFTER=$(pg_counts)
read -r b0 rec0 by0 t0 d0 cs0 f0 s0 <<< "$COST_BEFORE"; read -r b1 rec1 by1 t1 d1 cs1 f1 s1 <<< "$COST_AFTER"
python3 -c "
n = max($b1 - $b0, 1); ticks = $t1 - $t0; hz = $(getconf CLK_TCK); s = $SECONDS_PER_RUN
print(f'per booking: {($rec1 - $rec0) / n:.2f} store records, {($by1 - $by0) / n:.0f} bytes of records, '
      f'{ticks / hz * 1e6 / n:.0f} us of server CPU, {($cs1 - $cs0) / n:.1f} context switches, '
      f'{($d1 - $d0) / n:.0f} bytes of data directory; '
      f'server cores used {ticks / hz / s:.2f}; server RSS {$(awk '/VmRSS/ {print $2}' /proc/$SERVER/status) / 1024:.0f} MiB')
flushes = $f1 - $f0; syncs = $s1 - $s0
# Builds before issue 27 have no sync metric (-1): their log syncs were
# sync_file_range, one a flush.
line = f'durability: {flushes / s:.0f} flushes/s, {n / max(flushes, 1):.1f} bookings per flush'
if $s0 >= 0:
    line += f', {syncs / s:.0f} fdatasync/s, {n / max(syncs, 1):.1f} bookings per fdatasync'
print(line)"
if [ -n "${PERF:-}" ]; then wait $PERF || true; PERF=; fi
profile replays
run replays -s scripts/wrk/replay.lua "$BASE"
if [ -n "${PERF:-}" ]; then wait $PERF || true; PERF=; fi
python3 - "$LOAD_DIR" <<'PY'
import sys
d = sys.argv[1]
r = {n: float(open(f"{d}/{n}.rps").read()) for n in ("healthz", "bookings", "replays")}
print(f"bookings/healthz = {r['bookings']/r['healthz']:.2f}   replays/bookings = {r['replays']/r['bookings']:.2f}")
PY
curl -fs "$BASE/metrics" | awk '/^boxoffice_store_(flush|commit)_batch_size_(sum|count)/ {v[$1]=$2}
  END {
    if (v["boxoffice_store_commit_batch_size_count"] > 0)
      printf "write sets per transaction: %.1f\n", v["boxoffice_store_commit_batch_size_sum"] / v["boxoffice_store_commit_batch_size_count"]
    if (v["boxoffice_store_flush_batch_size_count"] > 0)
      printf "transactions per flush: %.1f\n", v["boxoffice_store_flush_batch_size_sum"] / v["boxoffice_store_flush_batch_size_count"]
  }'
if [ "${STORE:-sled}" = postgres ]; then
  # PostgreSQL's own view of the bookings run (read again now: a backend
  # reports its statistics up to a second late): transactions committed
  # (the batched lookups' read-only ones too), the write rounds among
  # them (one commit_rounds row each), and rows written per write round.
  PG_AFTER=$(pg_counts)
  read -r c0 r0 w0 <<< "$PG_BEFORE"; read -r c1 r1 w1 <<< "$PG_AFTER"
  python3 -c "
c, r, w, s = $c1 - $c0, $r1 - $r0, $w1 - $w0, $SECONDS_PER_RUN
print(f'postgres during bookings: {c / s:.0f} commits/s, of which {w / s:.0f} write rounds/s; '
      f'{r / max(w, 1):.1f} rows written per write round')"
fi
