#!/usr/bin/env bash
# Box office load run (issue 31): what the staff side costs beside the crowd.
#
#  1. A block beside a booking: wrk on one-seat blocks (admin) and on
#     one-seat bookings, each on a show of its own, in turn, PAIRS pairs.
#  2. A show of 99,900 seats (100 rows of 999) filled with 50,000 bookings,
#     then its sales figures asked (1 thread, 4 connections) while bookings
#     of that show go on: the figures' p50 and p99.
#  3. That show's CSV: rows, bytes, time, and the server's resident memory
#     before and at its highest while the CSV streams.
#  4. A cancel by the box office beside a cancel by the booking's owner,
#     in turn, PAIRS pairs, on the bookings of step 1.
#  5. A restart: the time until the figures answer (counted once from the
#     50,000 bookings as the show loads).
#
#   scripts/box-office-load.sh [seconds per run, default 4]
#   STORE=postgres scripts/box-office-load.sh    # on a private PostgreSQL (scripts/pg.sh)
#   BIN=/tmp/boxoffice-a PAIRS=3 scripts/box-office-load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-4}
PAIRS=${PAIRS:-3}
PORT=${PORT:-18082}
BASE="http://127.0.0.1:$PORT"
export ADMIN_TOKEN=load-admin
export LOAD_DIR=$(mktemp -d)
export WRK_THREADS=2
trap 'kill ${SERVER:-} ${BOOKERS:-} 2>/dev/null || true; wait ${SERVER:-} 2>/dev/null || true; [ "${STORE:-sled}" = postgres ] && scripts/pg.sh stop "$LOAD_DIR/pg"; rm -rf "$LOAD_DIR"' EXIT

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
BIN=${BIN:-}
if [ -z "$BIN" ]; then cargo build --release --quiet; BIN=target/release/boxoffice; fi
STORE_ARGS=(--data-dir "$LOAD_DIR/data")
if [ "${STORE:-sled}" = postgres ]; then
  chmod 755 "$LOAD_DIR"
  STORE_ARGS=(--database-url "$(scripts/pg.sh start "$LOAD_DIR/pg" "${PG_PORT:-15435}")")
fi
start_server() {
  BOXOFFICE_ADMIN_TOKEN=$ADMIN_TOKEN BOXOFFICE_USER_RATE_LIMIT=0 BOXOFFICE_MAX_KEYS_PER_USER=1000000 \
    RUST_LOG=warn "$BIN" serve --bind 127.0.0.1:$PORT "${STORE_ARGS[@]}" --no-demo \
    >> "$LOAD_DIR/server.out" &
  SERVER=$!
}
start_server
for _ in $(seq 100); do curl -fs "$BASE/healthz" >/dev/null && break; sleep 0.1; done

rows=$(python3 -c 'import json;print(json.dumps([{"label":chr(65+i//26)+chr(65+i%26),"seats":999} for i in range(100)]))')
new_show() { # title -> id
  curl -fs -X POST "$BASE/v1/shows" -H "Authorization: Bearer $ADMIN_TOKEN" -H "Idempotency-Key: show-$1" \
    -H 'Content-Type: application/json' \
    -d "{\"title\":\"$1\",\"starts_at\":\"2030-01-01T20:00:00Z\",\"rows\":$rows}" \
    | python3 -c 'import sys,json;print(json.load(sys.stdin)["id"])'
}
for _ in $(seq 64); do
  curl -fs -X POST "$BASE/v1/sessions" \
    | python3 -c 'import sys,json;d=json.load(sys.stdin);print(d["token"], d["user_id"])' >> "$LOAD_DIR/users"
done
cut -d' ' -f1 "$LOAD_DIR/users" > "$LOAD_DIR/tokens"

run() { # name, wrk args... (prints req/s, p50, p99, non-2xx; keeps the output)
  local name=$1; shift
  wrk -t$WRK_THREADS -c64 -d${SECONDS_PER_RUN}s --latency "$@" > "$LOAD_DIR/$name.txt"
  printf '%-22s %10s req/s   p50 %8s   p99 %8s   non-2xx %s\n' "$name" \
    "$(awk '/Requests\/sec/ {print $2}' "$LOAD_DIR/$name.txt")" \
    "$(awk '$1=="50%" {print $2}' "$LOAD_DIR/$name.txt")" \
    "$(awk '$1=="99%" {print $2}' "$LOAD_DIR/$name.txt")" \
    "$(awk '/Non-2xx/ {print $5}' "$LOAD_DIR/$name.txt")"
}
sales() { # show -> the sales figures' JSON
  curl -fs "$BASE/v1/shows/$1/sales" -H "Authorization: Bearer $ADMIN_TOKEN"
}

echo "machine: $(nproc) cores, $(uname -srm); wrk -t$WRK_THREADS -c64 -d${SECONDS_PER_RUN}s; store ${STORE:-sled}"
echo "== 1. a block beside a booking (each on a fresh show of 99,900 seats)"
COST_SHOWS=()
for pair in $(seq "$PAIRS"); do
  show=$(new_show "cost-$pair"); COST_SHOWS+=("$show"); echo "$show" > "$LOAD_DIR/shows"
  WRK_KEY_PREFIX=cost-$pair run "bookings-$pair" -s scripts/wrk/book.lua "$BASE"
  new_show "block-$pair" > "$LOAD_DIR/block_show"
  WRK_KEY_PREFIX=block-$pair run "blocks-$pair" -s scripts/wrk/block.lua "$BASE"
done

echo "== 2. the figures of a show of 99,900 seats with 50,000 bookings, while it sells"
BIG=$(new_show big); echo "$BIG" > "$LOAD_DIR/shows"
made=0; round=0
while :; do
  booked=$(sales "$BIG" | python3 -c 'import sys,json;print(json.load(sys.stdin)["bookings"])')
  [ "$booked" -ge 50000 ] && break
  round=$((round + 1))
  WRK_OFFSET=$made WRK_KEY_PREFIX=fill-$round wrk -t$WRK_THREADS -c64 -d1s -s scripts/wrk/book.lua "$BASE" > "$LOAD_DIR/fill.txt"
  made=$((made + $(awk '/requests in/ {print $1}' "$LOAD_DIR/fill.txt")))
done
echo "bookings of the show: $booked"
WRK_OFFSET=$made WRK_KEY_PREFIX=during wrk -t1 -c32 -d$((SECONDS_PER_RUN + 2))s -s scripts/wrk/book.lua "$BASE" > "$LOAD_DIR/during.txt" &
BOOKERS=$!
sleep 1
wrk -t1 -c4 -d${SECONDS_PER_RUN}s --latency -H "Authorization: Bearer $ADMIN_TOKEN" "$BASE/v1/shows/$BIG/sales" > "$LOAD_DIR/sales.txt"
wait $BOOKERS; BOOKERS=
printf 'sales figures: %s req/s   p50 %s   p99 %s   (bookings meanwhile: %s req/s)\n' \
  "$(awk '/Requests\/sec/ {print $2}' "$LOAD_DIR/sales.txt")" \
  "$(awk '$1=="50%" {print $2}' "$LOAD_DIR/sales.txt")" \
  "$(awk '$1=="99%" {print $2}' "$LOAD_DIR/sales.txt")" \
  "$(awk '/Requests\/sec/ {print $2}' "$LOAD_DIR/during.txt")"
sales "$BIG" | python3 -c '
import sys, json
s = json.load(sys.stdin)
assert s["available"] + s["held"] + s["booked"] + s["blocked"] == s["capacity"], s
bookings, booked, minutes = s["bookings"], s["booked"], len(s["per_minute"])
print(f"figures: {bookings} bookings, {booked} seats booked, {minutes} minutes")'

echo "== 3. the CSV of that show"
rss() { awk '/VmRSS/ {print $2}' "/proc/$SERVER/status"; }
before=$(rss); peak=$before
started=$(date +%s.%N)
curl -fs "$BASE/v1/shows/$BIG/bookings?format=csv" -H "Authorization: Bearer $ADMIN_TOKEN" -o "$LOAD_DIR/big.csv" &
CSV=$!
while kill -0 $CSV 2>/dev/null; do now=$(rss); [ "$now" -gt "$peak" ] && peak=$now; sleep 0.02; done
wait $CSV
ended=$(date +%s.%N)
python3 - "$LOAD_DIR/big.csv" "$started" "$ended" "$before" "$peak" <<'PY'
import sys
path, t0, t1, before, peak = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
lines = open(path).read().splitlines()
size = sum(len(l) + 1 for l in lines)
print(f"csv: {len(lines) - 1} bookings, {size / 1e6:.1f} MB in {t1 - t0:.2f} s; "
      f"server RSS {before / 1024:.0f} MiB before, {peak / 1024:.0f} MiB at most while streaming "
      f"(+{(peak - before) / 1024:.1f} MiB)")
PY

echo "== 4. a cancel by the box office beside one by the owner (bookings of step 1)"
python3 - "$BASE" "$ADMIN_TOKEN" "$LOAD_DIR" "$PAIRS" "${COST_SHOWS[@]}" <<'PY'
import json, sys, urllib.request
base, admin, d, pairs, shows = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:]
token_of = dict(reversed(line.split()) for line in open(f"{d}/users").read().splitlines())
lines = []
for show in shows:
    cursor = None
    while True:
        url = f"{base}/v1/shows/{show}/bookings?limit=1000" + (f"&cursor={cursor}" if cursor else "")
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {admin}"})
        page = json.load(urllib.request.urlopen(req))
        lines += [f"{b['id']} {token_of[b['user_id']]}" for b in page["bookings"] if b["status"] == "confirmed"]
        cursor = page["next_cursor"]
        if not cursor:
            break
share = len(lines) // (2 * pairs)
for n in range(2 * pairs):
    open(f"{d}/cancel-{n}", "w").write("\n".join(lines[n * share:(n + 1) * share]) + "\n")
print(f"{len(lines)} bookings to cancel, {share} a run")
PY
# One second a run: each run must find a booking still to cancel for
# every request (a repeat cancel is a cheaper no-op; the note below says
# when a run ran out).
for pair in $(seq "$PAIRS"); do
  CANCEL_FILE=cancel-$((2 * pair - 2)) CANCEL_AS=owner SECONDS_PER_RUN=1 run "owner-cancels-$pair" -s scripts/wrk/cancel.lua "$BASE"
  CANCEL_FILE=cancel-$((2 * pair - 1)) CANCEL_AS=admin SECONDS_PER_RUN=1 run "admin-cancels-$pair" -s scripts/wrk/cancel.lua "$BASE"
done
for f in "$LOAD_DIR"/*-cancels-*.txt; do
  n=$(awk '/requests in/ {print $1}' "$f"); have=$(wc -l < "$LOAD_DIR/cancel-0")
  [ "$n" -le "$have" ] || echo "note: $(basename "$f" .txt) made $n requests for $have bookings: the rest cancelled one again"
done

echo "== 5. a restart: until the figures of the 50,000-booking show answer"
kill -TERM $SERVER; wait $SERVER || true
started=$(date +%s.%N)
start_server
until sales "$BIG" > /dev/null 2>&1; do sleep 0.05; done
python3 -c "import time; print(f'figures answered {time.time() - $started:.2f} s after the start')"
