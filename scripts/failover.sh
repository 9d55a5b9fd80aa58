#!/usr/bin/env bash
# Losing the database machine: `boxoffice simulate --cluster 2` against a
# PostgreSQL primary with a streaming standby (Debian's package, started
# here by scripts/pg.sh), the nodes on a multi-host URL
# (postgres://...@127.0.0.1:P1,127.0.0.1:P2/run?target_session_attrs=read-write),
# a churn crowd sending keyed requests with retries to both nodes, and
# mid-run the primary lost (pg_ctl -m immediate: every backend gone at once)
# and the standby promoted (pg_ctl promote) a moment later, as an
# orchestrator would. Four runs, each on a fresh pair:
#
# sync: a synchronous standby, the primary lost while commit rounds are in
#    flight: a transaction of this script holds a lock on bookings (which a
#    round writes in its second round trip, its COMMIT pipelined behind)
#    until rounds wait on it, then the primary goes. Required: the checker
#    clean (no acknowledged booking lost, every key replays, no seat twice,
#    seat maps = bookings + holds, writes during the outage answered 503 or
#    replayed), commit rounds looked up on the new primary (> 0), both
#    nodes saw the new history, no acknowledged write reported lost, and
#    the show served again within SERVED_BOUND_MS of the promotion.
# async: an asynchronous standby that lags: it is stopped, the primary
#    acknowledges 50 rounds it alone has, then the primary is lost and the
#    standby (started again) promoted. Required: the checker FINDS the loss
#    (lost-booking: the run can fail), the nodes report acknowledged writes
#    lost, and no seat map shows what the database lost.
# memory: the same loss with one node and no load, so nothing else touches
#    the seats: five bookings the standby has, five it never gets; after the
#    promotion the node's seat map shows the new primary's five, not ten,
#    and it reports the five lost (metric and log). A node that kept its
#    memory across the promotion fails here every time.
# deadline: a commit round's outcome that cannot be looked up within
#    store_deadline_ms (the primary lost mid-round, the standby promoted
#    only later): the node stops (exit non-zero, saying why) and the
#    request gets no answer, rather than a guess; after the promotion and a
#    restart its retry with the same key books once, and replays.
#
#   scripts/failover.sh                # all three
#   RUNS="sync" scripts/failover.sh    # one of sync, async, memory, deadline
set -euo pipefail
cd "$(dirname "$0")/.."
SEED=${SEED:-1}
LEASE_MS=${LEASE_MS:-6000}
RUNS=${RUNS:-"sync async memory deadline"}
SERVED_BOUND_MS=${SERVED_BOUND_MS:-10000}
BASE_PORT=${PG_PORT:-$((21000 + $$ % 9000))}
DIR=$(mktemp -d)
chmod 755 "$DIR"   # the postgres user works below it
cleanup() {
  for d in "$DIR"/*/; do [ -d "$d/data" ] && scripts/pg.sh stop "$d"; done
  rm -rf "$DIR"
}
trap cleanup EXIT INT TERM
cargo build --quiet
failed=0 passed=0

# A fresh primary and standby for each run.
pair() { # NAME MODE OFFSET -> sets P S P_PORT S_PORT URL
  P="$DIR/$1-primary" S="$DIR/$1-standby"
  P_PORT=$((BASE_PORT + $3)) S_PORT=$((BASE_PORT + $3 + 1))
  scripts/pg.sh start "$P" "$P_PORT" > /dev/null
  psql -q -h 127.0.0.1 -p "$P_PORT" -U postgres -d postgres -c "CREATE DATABASE run" > /dev/null
  scripts/pg.sh standby "$S" "$S_PORT" "$P_PORT" "$2"
  URL="postgres://postgres@127.0.0.1:$P_PORT,127.0.0.1:$S_PORT/run?target_session_attrs=read-write"
}

# The primary lost while commit rounds wait on it: hold a lock every round
# needs until one waits, then stop the primary as a crash would.
lose_primary_mid_round() { # PRIMARY_DIR PORT
  cat <<EOF
psql -q -h 127.0.0.1 -p $2 -U postgres -d run -c 'BEGIN' -c 'LOCK TABLE bookings IN SHARE MODE' -c 'SELECT pg_sleep(60)' >/dev/null 2>&1 &
for i in \$(seq 1 200); do
  n=\$(psql -tA -h 127.0.0.1 -p $2 -U postgres -d run -c "SELECT count(*) FROM pg_locks WHERE relation = 'bookings'::regclass AND NOT granted")
  [ "\${n:-0}" -gt 0 ] && break
  sleep 0.05
done
echo "rounds waiting when the primary was lost: \$n" >> $DIR/mid-round
scripts/pg.sh down $1
EOF
}

# The standby stops; the primary acknowledges at least 50 rounds it alone
# has; then it is lost, and the standby starts again (its primary gone).
lose_lagging_primary() { # PRIMARY_DIR PORT STANDBY_DIR
  cat <<EOF
scripts/pg.sh down $3
before=\$(psql -tA -h 127.0.0.1 -p $2 -U postgres -d run -c 'SELECT count(*) FROM commit_rounds')
for i in \$(seq 1 200); do
  now=\$(psql -tA -h 127.0.0.1 -p $2 -U postgres -d run -c 'SELECT count(*) FROM commit_rounds')
  [ "\$((now - before))" -ge 50 ] && break
  sleep 0.05
done
echo "rounds the standby never got: \$((now - before))" >> $DIR/lag
scripts/pg.sh down $1
scripts/pg.sh up $3
EOF
}

# One node of our own on $URL (for the runs without the simulator).
NODE_PORT=$((BASE_PORT + 10)) NODE="http://127.0.0.1:$((BASE_PORT + 10))" ADMIN=failover-admin
serve() {
  BOXOFFICE_STORE_DEADLINE_MS=3000 BOXOFFICE_ADMIN_TOKEN=$ADMIN RUST_LOG=warn \
    target/debug/boxoffice serve --database-url "$URL" --bind "127.0.0.1:$NODE_PORT" \
    --no-demo --data-dir "$DIR/$run-node" > /dev/null 2>> "$DIR/node.log" &
  NODE_PID=$!
  for _ in $(seq 1 300); do curl -fs "$NODE/healthz" > /dev/null && return; sleep 0.1; done
  echo "   the node did not start"; cat "$DIR/node.log"; exit 1
}
show_and_session() { # -> SHOW TOKEN
  SHOW=$(curl -fsS -H "Authorization: Bearer $ADMIN" -H "Idempotency-Key: show-1" \
    -H 'Content-Type: application/json' "$NODE/v1/shows" \
    -d '{"title":"Failover","starts_at":"2030-01-01T20:00:00Z","rows":[{"label":"A","seats":5},{"label":"B","seats":5}]}' \
    | grep -o '"id":"[^"]*"' | head -1 | cut -d'"' -f4)
  TOKEN=$(curl -fsS -X POST "$NODE/v1/sessions" | grep -o '"token":"[^"]*"' | cut -d'"' -f4)
}
book() { # KEY [SEATS_JSON] -> the status; body and headers in $DIR/book.*
  curl -sS -o "$DIR/book.body" -D "$DIR/book.headers" -w '%{http_code}' \
    -H "Authorization: Bearer $TOKEN" -H "Idempotency-Key: $1" -H 'Content-Type: application/json' \
    "$NODE/v1/bookings" -d "{\"show_id\":\"$SHOW\",\"seats\":${2:-[\"A1\",\"A2\"]}}" || true
}
booked_on_map() { # seats the node's seat map shows booked
  curl -fsS "$NODE/v1/shows/$SHOW" | grep -o '"status":"booked"' | wc -l
}
metric() { # NAME -> its value on the node
  curl -fsS "$NODE/metrics" | sed -n "s/^$1 \([0-9]*\).*/\1/p"
}

simulate() { # LEASE_MS URL ARGS... (output in $DIR/out, status in $status)
  local lease=$1 url=$2
  shift 2
  status=0
  target/debug/boxoffice simulate --cluster 2 --database-url "$url" \
    --scenario churn --users 150 --rows 4 --seats-per-row 10 \
    --lease-ms "$lease" --seed "$SEED" --quiet "$@" > "$DIR/out" 2> "$DIR/err" || status=$?
  grep -E "fault:|database was down|histories|checker" "$DIR/out" || true
  if [ -n "${SHOW_OUT:-}" ]; then cat "$DIR/out"; fi
}

verdict() { # NAME OK
  if [ "$2" = 1 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "   FAILED: $1, seed $SEED"
    cat "$DIR/out" 2>/dev/null || tail -20 "$DIR/node.log"
    tail -30 "$DIR/err" 2>/dev/null || true
  fi
}

counter_of() { # the summary line's field
  sed -n "s/.*$1: \([0-9]*\).*/\1/p" "$DIR/out" | head -1
}

for run in $RUNS; do
  case $run in
    sync)
      echo "== synchronous standby, the primary lost with commit rounds in flight (seed $SEED)"
      pair sync sync 0
      simulate "$LEASE_MS" "$URL" --duration-secs 14 --fault-every-secs 5 --cluster-faults failover \
        --promote-after-ms 1000 \
        --db-stop-cmd "$(lose_primary_mid_round "$P" "$P_PORT")" \
        --db-promote-cmd "scripts/pg.sh promote $S"
      cat "$DIR/mid-round" 2>/dev/null || true
      ok=1
      [ "$status" = 0 ] || { echo "   the checker was not clean (exit $status)"; ok=0; }
      served=$(sed -n 's/.*database failover.*served again after \([0-9.]*\) s.*/\1/p' "$DIR/out")
      if [ -z "$served" ] || [ "$(awk "BEGIN { print ($served * 1000 > $SERVED_BOUND_MS) }")" = 1 ]; then
        echo "   not served again within ${SERVED_BOUND_MS} ms of the promotion (${served:-never} s)"; ok=0
      fi
      looked=$(sed -n 's/.*looked up after a broken connection: \([0-9]*\) committed, \([0-9]*\) not.*/\1 \2/p' "$DIR/out")
      [ "$(echo "${looked:-0 0}" | awk '{ print $1 + $2 }')" -gt 0 ] \
        || { echo "   no commit round was looked up: the primary was not lost mid-round"; ok=0; }
      [ "$(counter_of 'histories changed under a node')" -ge 2 ] \
        || { echo "   the nodes did not both see the new history"; ok=0; }
      [ "$(counter_of 'lost (nodes. count)')" = 0 ] \
        || { echo "   a node reported acknowledged writes lost on a synchronous standby"; ok=0; }
      verdict "synchronous failover" $ok
      ;;
    async)
      echo "== asynchronous standby that lags, then promoted (must find the loss) (seed $SEED)"
      pair async async 2
      simulate "$LEASE_MS" "$URL" --duration-secs 14 --fault-every-secs 5 --cluster-faults failover \
        --promote-after-ms 1000 \
        --db-stop-cmd "$(lose_lagging_primary "$P" "$P_PORT" "$S")" \
        --db-promote-cmd "scripts/pg.sh promote $S"
      cat "$DIR/lag" 2>/dev/null || true
      ok=1
      lost=$(grep -c '^\[lost-booking\]' "$DIR/out" || true)
      maps=$(grep -c '^\[seat-map\]' "$DIR/out" || true)
      reported=$(counter_of 'lost (nodes. count)')
      echo "   lost-booking violations: $lost; seat-map violations: $maps; acknowledged writes the nodes reported lost: ${reported:-0}"
      [ "$status" = 1 ] && [ "$lost" -gt 0 ] \
        || { echo "   the lagging standby's loss was not found (exit $status): the run cannot fail"; ok=0; }
      [ "$maps" = 0 ] || { echo "   a node served from memory what the database lost"; ok=0; }
      [ "${reported:-0}" -gt 0 ] || { echo "   no node reported the acknowledged writes lost"; ok=0; }
      verdict "asynchronous failover" $ok
      ;;
    memory)
      echo "== a node does not serve from memory what a promoted, lagging standby lacks"
      pair memory async 6
      ok=1
      serve
      show_and_session
      for seat in 1 2 3 4 5; do book "a-$seat" "[\"A$seat\"]" > /dev/null; done
      # The standby has replayed all of that, then stops; five more
      # bookings are acknowledged by the primary alone.
      for _ in $(seq 1 200); do
        behind=$(psql -tA -h 127.0.0.1 -p "$P_PORT" -U postgres -d postgres \
          -c "SELECT pg_current_wal_lsn() > replay_lsn FROM pg_stat_replication WHERE application_name = 'standby'")
        [ "$behind" = f ] && break; sleep 0.05
      done
      scripts/pg.sh down "$S"
      for seat in 1 2 3 4 5; do book "b-$seat" "[\"B$seat\"]" > /dev/null; done
      before=$(booked_on_map)
      scripts/pg.sh down "$P"
      scripts/pg.sh up "$S"
      scripts/pg.sh promote "$S"
      # Served again: a write goes through (a new session).
      for _ in $(seq 1 300); do
        curl -fs -X POST "$NODE/v1/sessions" > /dev/null && curl -fs "$NODE/v1/shows/$SHOW" > /dev/null && break
        sleep 0.1
      done
      on_map=$(booked_on_map)
      in_db=$(psql -tA -h 127.0.0.1 -p "$S_PORT" -U postgres -d run -c "SELECT count(*) FROM seats WHERE state = 2")
      lost=$(metric boxoffice_store_lost_acknowledged_writes_total)
      echo "   booked seats on the node's map: $before before the failover, $on_map after; in the new primary: $in_db; acknowledged writes the node reported lost: ${lost:-?}"
      [ "$in_db" = 5 ] || { echo "   the new primary should hold the five bookings made before the standby stopped"; ok=0; }
      [ "$on_map" = "$in_db" ] || { echo "   the node serves from memory seats the database lost"; ok=0; }
      [ "${lost:-0}" -ge 5 ] || { echo "   the node did not report the five acknowledged bookings lost"; ok=0; }
      grep -q "ACKNOWLEDGED WRITES LOST" "$DIR/node.log" || { echo "   the node's log does not say so"; ok=0; }
      kill "$NODE_PID"; wait "$NODE_PID" || true
      verdict "memory dropped after a promotion" $ok
      ;;
    deadline)
      echo "== a round's outcome cannot be looked up within store_deadline_ms: the node stops, and the retry settles it"
      pair deadline sync 4
      ok=1
      serve
      show_and_session
      # A lock every round needs, then the booking, whose round waits on
      # it; the primary is lost under it.
      locks() { # GRANTED
        psql -tA -h 127.0.0.1 -p "$P_PORT" -U postgres -d run \
          -c "SELECT count(*) FROM pg_locks WHERE relation = 'bookings'::regclass AND granted = $1"
      }
      psql -q -h 127.0.0.1 -p "$P_PORT" -U postgres -d run -c 'BEGIN' \
        -c 'LOCK TABLE bookings IN SHARE MODE' -c 'SELECT pg_sleep(60)' > /dev/null 2>&1 &
      for _ in $(seq 1 200); do [ "$(locks true)" -gt 0 ] && break; sleep 0.05; done
      book booking-1 > "$DIR/first" &
      BOOKING=$!
      for _ in $(seq 1 200); do [ "$(locks false)" -gt 0 ] && break; sleep 0.05; done
      echo "   rounds waiting when the primary was lost: $(locks false)"
      scripts/pg.sh down "$P"
      wait $BOOKING || true
      first=$(cat "$DIR/first")
      exited=""
      for _ in $(seq 1 300); do
        kill -0 "$NODE_PID" 2> /dev/null || { wait "$NODE_PID" && exited=0 || exited=$?; break; }
        sleep 0.1
      done
      echo "   the booking in flight was answered: '${first:-nothing}'; the node's exit status: ${exited:-still running}"
      echo "   the node said: $(grep -m1 -oE "(the outcome of a commit is unknown|the store's [a-z ]+ has run [0-9]+ ms).*" "$DIR/node.log" || echo nothing)"
      [ "${first:-000}" = 000 ] || { echo "   a request whose outcome was unknown got an answer"; ok=0; }
      if [ -z "$exited" ] || [ "$exited" = 0 ]; then
        echo "   the node did not stop when the outcome could not be learned"; ok=0
        kill "$NODE_PID" 2> /dev/null || true
      fi
      grep -qE "outcome of a commit is unknown|has run [0-9]+ ms \(deadline" "$DIR/node.log" \
        || { echo "   the node's log does not say why it stopped"; ok=0; }
      scripts/pg.sh promote "$S"
      serve
      again=$(book booking-1)
      body=$(cat "$DIR/book.body")
      replay=$(book booking-1)
      replayed=$(grep -ci '^idempotent-replayed: true' "$DIR/book.headers" || true)
      echo "   after the promotion and a restart, the retry: $again; its repeat: $replay (replayed: $replayed)"
      [ "$again" = 201 ] && [ "$replay" = 201 ] && [ "$replayed" = 1 ] && [ "$(cat "$DIR/book.body")" = "$body" ] \
        || { echo "   the retry did not settle the booking exactly once"; ok=0; }
      booked=$(psql -tA -h 127.0.0.1 -p "$S_PORT" -U postgres -d run -c "SELECT count(*) FROM bookings")
      [ "$booked" = 1 ] || { echo "   $booked bookings in the database, not 1"; ok=0; }
      kill "$NODE_PID"; wait "$NODE_PID" || true
      target/debug/boxoffice check --database-url "$URL" > "$DIR/check" 2>&1 \
        || { echo "   boxoffice check: $(cat "$DIR/check")"; ok=0; }
      verdict "fail-stop when the outcome is unknown" $ok
      ;;
  esac
done

echo "failover: $passed passed, $failed failed (seed $SEED, lease_ms $LEASE_MS)"
[ "$failed" = 0 ]
