#!/usr/bin/env bash
# Venue scale run: 1,000,000 seats over 100 shows (100 rows x 100 seats
# each), then a restart, timing start-up to the first booking answered, and
# resident memory after 10,000 seats have been booked (10,000 seat actors
# activated).
#
#   scripts/venue.sh
#   STORE=postgres scripts/venue.sh   # on a private PostgreSQL (scripts/pg.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18081}
BASE="http://127.0.0.1:$PORT"
DIR=$(mktemp -d)
trap 'kill ${SERVER:-} 2>/dev/null || true; wait ${SERVER:-} 2>/dev/null || true; [ "${STORE:-sled}" = postgres ] && scripts/pg.sh stop "$DIR/pg"; rm -rf "$DIR"' EXIT
cargo build --release --quiet
STORE_ARGS=(--data-dir "$DIR/data")
if [ "${STORE:-sled}" = postgres ]; then
  chmod 755 "$DIR"   # the postgres user works below it
  STORE_ARGS=(--database-url "$(scripts/pg.sh start "$DIR/pg" "${PG_PORT:-15434}")")
fi
start_server() {
  BOXOFFICE_ADMIN_TOKEN=admin BOXOFFICE_USER_RATE_LIMIT=0 RUST_LOG=warn \
    target/release/boxoffice serve --bind 127.0.0.1:$PORT "${STORE_ARGS[@]}" --no-demo > /dev/null &
  SERVER=$!
}
start_server
for _ in $(seq 100); do curl -fs "$BASE/healthz" >/dev/null && break; sleep 0.1; done
python3 - "$BASE" "$DIR" <<'PY'
import json, sys, urllib.request
base, d = sys.argv[1], sys.argv[2]
def post(path, body, key=None, token="admin"):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST")
    req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Content-Type", "application/json")
    if key: req.add_header("Idempotency-Key", key)
    with urllib.request.urlopen(req) as r: return json.load(r)
rows = [{"label": chr(65 + i // 26) + chr(65 + i % 26), "seats": 100} for i in range(100)]
shows = [post("/v1/shows", {"title": f"Venue {n}", "starts_at": "2030-01-01T20:00:00Z", "rows": rows}, key=f"venue-{n}")["id"] for n in range(100)]
token = json.load(urllib.request.urlopen(urllib.request.Request(base + "/v1/sessions", method="POST")))["token"]
open(f"{d}/shows", "w").write("\n".join(shows))
open(f"{d}/token", "w").write(token)
print(f"created {len(shows)} shows of {100*100} seats: {len(shows)*100*100} seats")
PY
kill -TERM $SERVER; wait $SERVER || true
started=$(date +%s.%N)
start_server
python3 - "$BASE" "$DIR" "$started" "$SERVER" <<'PY'
import json, sys, time, urllib.request, urllib.error
base, d, started, pid = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
shows = open(f"{d}/shows").read().split()
token = open(f"{d}/token").read().strip()
def book(i):
    show = shows[i % len(shows)]
    seat = chr(65 + (i // 100 % 100) // 26) + chr(65 + (i // 100 % 100) % 26) + str(i % 100 + 1)
    body = json.dumps({"show_id": show, "seats": [seat]}).encode()
    req = urllib.request.Request(base + "/v1/bookings", data=body, method="POST")
    req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Idempotency-Key", f"venue-book-{i}")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req) as r: return r.status
while True:
    try:
        if book(0) == 201: break
    except (urllib.error.URLError, ConnectionError):
        time.sleep(0.005)
print(f"restart to first booking: {time.time() - started:.3f} s")
for i in range(1, 10000):
    assert book(i) == 201
rss = [l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0].split()[1]
print(f"resident memory with 10,000 seats booked (their actors active): {int(rss) / 1024:.0f} MiB")
PY
