#!/usr/bin/env bash
# Export and import at size: a release server on a fresh store gets
# 1,000,000 seats (ten shows of 100 rows x 999, one of 2 x 500) and 100,000
# durable one-shot bookings (wrk, 64 connections); then
#   - an online export (GET /v1/admin/export) with nothing else running:
#     seconds, records/s, the server's RSS growth (peak during the export
#     over RSS before it), the dump's bytes per booking;
#   - bookings/s with and without exports running back to back, in pairs
#     (the order alternating), ROUNDS of them: the ratio per pair;
#   - the server stopped, an offline `boxoffice export` and a `boxoffice
#     import` into an empty store: seconds, records/s, peak RSS; and a
#     `boxoffice check` of the imported store.
#
#   scripts/dump-bench.sh                  # sled, 3 rounds of 5 s runs
#   STORE=postgres scripts/dump-bench.sh   # on a private PostgreSQL (scripts/pg.sh)
#   ROUNDS=5 SECONDS_PER_RUN=5 BOOKINGS=20000 scripts/dump-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
BOOKINGS=${BOOKINGS:-100000}
PORT=${PORT:-18090}
BASE="http://127.0.0.1:$PORT"
ADMIN=bench-admin
export LOAD_DIR=$(mktemp -d)
export WRK_THREADS=2
STORE=${STORE:-sled}
cleanup() {
  kill ${SERVER:-} 2>/dev/null || true; wait ${SERVER:-} 2>/dev/null || true
  [ "$STORE" = postgres ] && scripts/pg.sh stop "$LOAD_DIR/pg"
  [ -n "${KEEP_DIR:-}" ] || rm -rf "$LOAD_DIR"
}
trap cleanup EXIT

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
cargo build --release --quiet
BIN=target/release/boxoffice
if [ "$STORE" = postgres ]; then
  chmod 755 "$LOAD_DIR"   # the postgres user works below it
  DATABASE_URL=$(scripts/pg.sh start "$LOAD_DIR/pg" "${PG_PORT:-15434}")
  psql -q -h 127.0.0.1 -p "${PG_PORT:-15434}" -U postgres -c "CREATE DATABASE restored" > /dev/null
  SOURCE=(--database-url "$DATABASE_URL")
  TARGET=(--database-url "${DATABASE_URL%/boxoffice}/restored")
  NODE=(--database-url "$DATABASE_URL" --data-dir "$LOAD_DIR/node")
else
  SOURCE=(--data-dir "$LOAD_DIR/data")
  TARGET=(--data-dir "$LOAD_DIR/restored")
  NODE=("${SOURCE[@]}")
fi
BOXOFFICE_ADMIN_TOKEN=$ADMIN BOXOFFICE_USER_RATE_LIMIT=0 RUST_LOG=warn \
  "$BIN" serve --bind 127.0.0.1:$PORT "${NODE[@]}" --no-demo \
  > "$LOAD_DIR/server.out" &
SERVER=$!
for _ in $(seq 100); do curl -fs "$BASE/healthz" >/dev/null && break; sleep 0.1; done

show() { # title, rows json
  curl -fs -X POST "$BASE/v1/shows" -H "Authorization: Bearer $ADMIN" -H "Idempotency-Key: show-$1" \
    -H 'Content-Type: application/json' \
    -d "{\"title\":\"$1\",\"starts_at\":\"2030-01-01T20:00:00Z\",\"rows\":$2}" \
    | python3 -c 'import sys,json;print(json.load(sys.stdin)["id"])'
}
rows=$(python3 -c 'import json;print(json.dumps([{"label":chr(65+i//26)+chr(65+i%26),"seats":999} for i in range(100)]))')
for i in $(seq 10); do show "Bench $i" "$rows" >> "$LOAD_DIR/shows"; done
show "Bench small" '[{"label":"A","seats":500},{"label":"B","seats":500}]' > /dev/null
for _ in $(seq 64); do
  curl -fs -X POST "$BASE/v1/sessions" | python3 -c 'import sys,json;print(json.load(sys.stdin)["token"])' >> "$LOAD_DIR/tokens"
done

metric() { curl -fs "$BASE/metrics" | awk -v m="$1" '$1==m {print $2}'; }
rss_kib() { awk '/VmRSS/ {print $2}' /proc/$SERVER/status; }

# The fill: bookings until BOOKINGS (wrk stopped once the count is there).
started=$(date +%s.%N)
WRK_KEY_PREFIX=fill wrk -t$WRK_THREADS -c64 -d600s -s scripts/wrk/book.lua "$BASE" > "$LOAD_DIR/fill.txt" &
WRK=$!
while kill -0 $WRK 2>/dev/null; do
  done_now=$(metric boxoffice_bookings_total)
  [ "${done_now%.*}" -ge "$BOOKINGS" ] && { kill -INT $WRK; break; }
  sleep 0.5
done
wait $WRK || true
booked=$(metric boxoffice_bookings_total); booked=${booked%.*}
echo "store: $STORE; machine: $(nproc) cores, $(uname -srm)"
python3 -c "print(f'fill: $booked bookings of 1,000,000 seats in {$(date +%s.%N) - $started:.0f} s')"

# An online export, alone: peak RSS reset first (clear_refs 5), then read.
rss_before=$(rss_kib)
echo 5 > /proc/$SERVER/clear_refs
started=$(date +%s.%N)
curl -fs -H "Authorization: Bearer $ADMIN" -o "$LOAD_DIR/online.jsonl" "$BASE/v1/admin/export"
seconds=$(python3 -c "print($(date +%s.%N) - $started)")
peak=$(awk '/VmHWM/ {print $2}' /proc/$SERVER/status)
records=$(( $(wc -l < "$LOAD_DIR/online.jsonl") - 2 ))
bytes=$(stat -c %s "$LOAD_DIR/online.jsonl")
python3 -c "
print(f'online export: {$records} records in {$seconds:.1f} s = {$records / $seconds:,.0f} records/s; '
      f'{$bytes / 1e6:.0f} MB, {$bytes / $booked:.0f} bytes per booking; '
      f'server RSS {$rss_before / 1024:.0f} MiB before, peak {$peak / 1024:.0f} MiB during: '
      f'growth {($peak - $rss_before) / 1024:.0f} MiB')"
tail -1 "$LOAD_DIR/online.jsonl" | cut -c1-160

# Bookings/s without and with exports running back to back, in pairs.
# Each run books seats of its own (WRK_OFFSET past every seat the runs
# before it asked for) under keys of its own; non-2xx answers are counted.
run=0
offset=$(( booked * 11 / 10 ))
bookings_run() { # name -> req/s, p99 and non-2xx answers
  run=$((run + 1))
  WRK_KEY_PREFIX="run$run" WRK_OFFSET=$offset \
    wrk -t$WRK_THREADS -c64 -d${SECONDS_PER_RUN}s --latency -s scripts/wrk/book.lua "$BASE" > "$LOAD_DIR/$1.txt"
  local requests
  requests=$(awk '/requests in/ {print $1}' "$LOAD_DIR/$1.txt")
  offset=$(( offset + requests * 11 / 10 + 1000 ))
  echo "$(awk '/Requests\/sec/ {print $2}' "$LOAD_DIR/$1.txt") $(awk '$1=="99%" {print $2}' "$LOAD_DIR/$1.txt") $(awk '/Non-2xx/ {print $5}' "$LOAD_DIR/$1.txt")"
}
: > "$LOAD_DIR/pairs"
with_exports() { # name: a bookings run while exports run back to back
  ( n=0; while [ ! -e "$LOAD_DIR/stop-$1" ]; do
      curl -fs -H "Authorization: Bearer $ADMIN" -o /dev/null "$BASE/v1/admin/export" && n=$((n + 1))
    done; echo $n > "$LOAD_DIR/exports-$1" ) &
  local exporting=$!
  bookings_run "$1"
  touch "$LOAD_DIR/stop-$1"; wait $exporting
}
for round in $(seq "$ROUNDS"); do
  # The order alternates, so that a machine warming up favours neither.
  if [ $((round % 2)) = 1 ]; then
    read -r alone alone_p99 alone_refused <<< "$(bookings_run "alone-$round")"
    read -r with with_p99 with_refused <<< "$(with_exports "with-$round")"
  else
    read -r with with_p99 with_refused <<< "$(with_exports "with-$round")"
    read -r alone alone_p99 alone_refused <<< "$(bookings_run "alone-$round")"
  fi
  exports=$(cat "$LOAD_DIR/exports-with-$round")
  echo "$alone $with $exports" >> "$LOAD_DIR/pairs"
  python3 -c "print(f'pair $round: {$alone:,.0f} bookings/s alone, {$with:,.0f} during exports ($exports exports finished): '
                    f'{$with / $alone:.2f} x; p99 $alone_p99 alone, $with_p99 with; non-2xx answers: ${alone_refused:-0} alone, ${with_refused:-0} with')"
done
python3 - "$LOAD_DIR/pairs" <<'PY'
import statistics, sys
pairs = [tuple(map(float, l.split())) for l in open(sys.argv[1])]
ratios = sorted(w / a for a, w, _ in pairs)
print(f"median: {statistics.median(a for a, _, _ in pairs):,.0f} bookings/s alone, "
      f"{statistics.median(w for _, w, _ in pairs):,.0f} during exports; "
      f"ratio median {statistics.median(ratios):.2f} x (pairs {ratios[0]:.2f}-{ratios[-1]:.2f})")
PY

# Offline: the server stopped, then export, import into an empty store, check.
booked=$(metric boxoffice_bookings_total); booked=${booked%.*}
kill -TERM $SERVER; wait $SERVER || true; SERVER=
timed() { # name, command...: seconds and peak RSS of the command
  local name=$1; shift
  RUST_LOG=warn /usr/bin/time -f "%e %M" -o "$LOAD_DIR/$name.time" "$@" > "$LOAD_DIR/$name.out" 2>&1 \
    || { cat "$LOAD_DIR/$name.out" >&2; exit 1; }
  cat "$LOAD_DIR/$name.time"
}
read -r secs kib <<< "$(timed export "$BIN" export "${SOURCE[@]}" --out "$LOAD_DIR/offline.jsonl")"
records=$(( $(wc -l < "$LOAD_DIR/offline.jsonl") - 2 ))
bytes=$(stat -c %s "$LOAD_DIR/offline.jsonl")
python3 -c "print(f'offline export: {$records} records ($booked bookings) in {$secs} s = {$records / $secs:,.0f} records/s; peak RSS {$kib / 1024:.0f} MiB; {$bytes / $booked:.0f} bytes per booking')"
read -r secs kib <<< "$(timed import "$BIN" import "${TARGET[@]}" "$LOAD_DIR/offline.jsonl")"
python3 -c "print(f'import: {$records} records in {$secs} s = {$records / $secs:,.0f} records/s; peak RSS {$kib / 1024:.0f} MiB')"
read -r secs kib <<< "$(timed check "$BIN" check "${TARGET[@]}")"
python3 -c "print(f'check of the imported store: {$secs} s, peak RSS {$kib / 1024:.0f} MiB: ' + open('$LOAD_DIR/check.out').readline().strip())"
