#!/usr/bin/env bash
# CLUSTER.md's fault table, as runs of `boxoffice simulate --cluster 3`: a
# private PostgreSQL, three nodes on it, a churn crowd (150 users wanting
# the same 40 seats, keeping each booking a few seconds) sending keyed
# requests with retries to every node in turn, and the node owning the show
# killed (-9), paused (SIGSTOP for two leases), cut off the database and
# the other nodes (ip netns, two leases) and the database restarted
# (pg_ctl -m immediate). The checker judges the merged history and the
# final state (no seat in two bookings, every 201 present, one effect per
# key, replays identical, seat map = bookings + holds); a takeover slower
# than 3 x lease_ms is a violation too. The cut run must see the cut
# node's late writes refused by the fence (fenced_total > 0); the same cut
# with the fence turned off (unsafe_no_fence, a test setting) must FIND a
# violation, so the runs can fail.
#
# The pause is judged like the others but is not asked for fenced writes:
# a resumed node renews its leases at once and drops what it lost, so it
# writes late only when SIGSTOP caught a commit round between its lease
# check and the database, which a run sees now and then, not every time
# (docs/SCALING.md). The cut has no such race: what the node sends the
# database while cut off arrives after the cut heals.
#
# The runs last about three minutes in all, too long for `cargo test`;
# .ci/run runs this script. The cut needs root (network namespaces): where
# they cannot be made the cut runs are skipped, loudly, and under CI=true
# that is a failure.
#
#   scripts/cluster-faults.sh             # every run
#   SEED=7 scripts/cluster-faults.sh      # another seed (printed on failure)
set -euo pipefail
cd "$(dirname "$0")/.."
SEED=${SEED:-1}
LEASE_MS=${LEASE_MS:-1000}
PG_PORT=${PG_PORT:-$((20000 + $$ % 10000))}
DIR=$(mktemp -d)
chmod 755 "$DIR"   # the postgres user works below it
cleanup() { scripts/pg.sh stop "$DIR/pg"; rm -rf "$DIR"; }
trap cleanup EXIT INT TERM

cargo build --quiet
URL=$(scripts/pg.sh start "$DIR/pg" "$PG_PORT")
failed=0 passed=0 skipped=0

# run NAME EXPECT ARGS...: EXPECT is "clean" (exit 0, and for the cut a
# fence that refused something) or "violation" (exit 1, a violation found).
run() {
  local name=$1 expect=$2
  shift 2
  echo "== $name (seed $SEED)"
  local status=0
  # Each run gets a fresh database: the runs do not see each other's shows.
  psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "DROP DATABASE IF EXISTS run" -c "CREATE DATABASE run" >/dev/null
  target/debug/boxoffice simulate --cluster 3 --database-url "${URL%/*}/run" \
    --scenario churn --users 150 --rows 4 --seats-per-row 10 \
    --lease-ms "$LEASE_MS" --seed "$SEED" --quiet \
    --db-restart-cmd "scripts/pg.sh restart $DIR/pg" "$@" > "$DIR/out" 2> "$DIR/err" || status=$?
  grep -E "fault:|refused by the fence|checker" "$DIR/out" || true
  local fenced
  fenced=$(sed -n 's/^| writes refused by the fence | \([0-9]*\) |$/\1/p' "$DIR/out")
  local ok=1
  case $expect in
    clean)
      [ "$status" = 0 ] || ok=0
      if [[ " $* " == *" --cluster-faults cut "* ]] && [ "${fenced:-0}" = 0 ]; then
        echo "   the cut node's late writes were not refused by the fence (fenced_total 0)"
        ok=0
      fi
      ;;
    violation)
      if [ "$status" != 1 ]; then
        echo "   the fence was off and the checker found no violation (exit $status): the run cannot fail"
        ok=0
      else
        echo "   as it must with the fence off: $(grep -c '^\[' "$DIR/out") violation(s), e.g. $(grep -m1 '^\[' "$DIR/out")"
      fi
      ;;
  esac
  if [ $ok = 1 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "   FAILED: $name, seed $SEED"
    cat "$DIR/out"
    tail -20 "$DIR/err"
  fi
}

# Faults every three leases; a pause or cut lasts two, a kill three (then
# the node restarts), so a 20-second run has three of them, a 30-second five.
EVERY=$(awk "BEGIN { print 3 * $LEASE_MS / 1000 }")
run "kill -9 of the owner, then the database restarted" clean \
  --cluster-faults kill,db-restart --duration-secs 20 --fault-every-secs "$EVERY"
run "SIGSTOP of the owner for two leases" clean \
  --cluster-faults pause --duration-secs 20 --fault-every-secs "$EVERY"

why=""
if [ "$(id -u)" != 0 ]; then
  why="not root"
elif ! command -v ip >/dev/null; then
  why="iproute2 missing (apt-get install iproute2)"
elif ! ip netns add "bo-probe-$$" 2>/dev/null; then
  why="ip netns add failed"
else
  ip netns del "bo-probe-$$"
fi
if [ -z "$why" ]; then
  # Five cuts a run: a cut finds the node with a round in flight, or a
  # seat the next owner sells again, most times, not every time.
  run "the owner cut off the database and the other nodes for two leases" clean \
    --cluster-faults cut --duration-secs 30 --fault-every-secs "$EVERY"
  run "cut with the fence off (must find a violation)" violation \
    --cluster-faults cut --duration-secs 30 --fault-every-secs "$EVERY" --unsafe-no-fence
else
  skipped=2
  echo "== SKIPPED: the network cut runs (2): network namespaces cannot be made here: $why"
  if [ "${CI:-}" = true ]; then
    echo "   under CI=true that is a failure"
    failed=$((failed + 1))
  fi
fi

echo "cluster faults: $passed passed, $failed failed, $skipped skipped (seed $SEED, lease_ms $LEASE_MS)"
[ "$failed" = 0 ]
