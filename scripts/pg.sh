#!/usr/bin/env bash
# A private PostgreSQL for benches and trials (not the tests': they start
# their own). Debian's package; initdb and pg_ctl refuse to run as root, so
# as root they run as the postgres user.
#
#   scripts/pg.sh start DIR PORT   # initdb (durable: no --no-sync) and start; prints the URL
#   scripts/pg.sh stop DIR         # immediate stop
#   scripts/pg.sh restart DIR      # immediate stop (as a crash), then start again
#   scripts/pg.sh down DIR         # immediate stop (as a crash); fails if it was not running
#   scripts/pg.sh up DIR           # start again after down, with the options of the first start
#   scripts/pg.sh standby DIR PORT PRIMARY_PORT [sync|async]
#                                  # a streaming standby of the server on PRIMARY_PORT (pg_basebackup),
#                                  # named "standby"; sync: the primary waits for it at every commit
#   scripts/pg.sh promote DIR      # the standby becomes a primary (pg_ctl promote, waits)
set -euo pipefail
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$BIN/initdb" ] || { echo "PostgreSQL is missing: apt-get install -y postgresql" >&2; exit 1; }
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$1" in
  start)
    DIR=$2 PORT=$3
    mkdir -p "$DIR"
    [ "$(id -u)" = 0 ] && chown postgres: "$DIR"
    as_owner "$BIN/initdb" -D "$DIR/data" -A trust -U postgres > "$DIR/initdb.log"
    echo "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=200" > "$DIR/options"
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -o "$(cat "$DIR/options")" start > /dev/null
    psql -q -h 127.0.0.1 -p "$PORT" -U postgres -c "CREATE DATABASE boxoffice" > /dev/null
    echo "postgres://postgres@127.0.0.1:$PORT/boxoffice"
    ;;
  stop)
    as_owner "$BIN/pg_ctl" -D "$2/data" -m immediate stop > /dev/null 2>&1 || true
    ;;
  restart)
    # pg_ctl restart reuses the options of the last start (postmaster.opts).
    as_owner "$BIN/pg_ctl" -D "$2/data" -l "$2/server.log" -m immediate -w restart > /dev/null
    ;;
  down)
    as_owner "$BIN/pg_ctl" -D "$2/data" -m immediate -w stop > /dev/null
    ;;
  up)
    as_owner "$BIN/pg_ctl" -D "$2/data" -l "$2/server.log" -w -o "$(cat "$2/options")" start > /dev/null
    ;;
  standby)
    DIR=$2 PORT=$3 PRIMARY=$4 MODE=${5:-sync}
    mkdir -p "$DIR"
    [ "$(id -u)" = 0 ] && chown postgres: "$DIR"
    as_owner "$BIN/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY" -U postgres -D "$DIR/data" -R -X stream -c fast \
      > "$DIR/basebackup.log" 2>&1
    # -R wrote a primary_conninfo; this one names the standby, which
    # synchronous_standby_names refers to (the last setting wins).
    echo "primary_conninfo = 'host=127.0.0.1 port=$PRIMARY user=postgres application_name=standby'" \
      | as_owner tee -a "$DIR/data/postgresql.auto.conf" > /dev/null
    echo "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=200" > "$DIR/options"
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -o "$(cat "$DIR/options")" start > /dev/null
    if [ "$MODE" = sync ]; then
      psql -q -h 127.0.0.1 -p "$PRIMARY" -U postgres -d postgres \
        -c "ALTER SYSTEM SET synchronous_standby_names = 'standby'" -c "SELECT pg_reload_conf()" > /dev/null
    fi
    # Streaming (and, for sync, counted as the synchronous standby) before this returns.
    want=$([ "$MODE" = sync ] && echo sync || echo async)
    for _ in $(seq 1 300); do
      state=$(psql -tA -h 127.0.0.1 -p "$PRIMARY" -U postgres -d postgres \
        -c "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby' AND state = 'streaming'")
      [ "$state" = "$want" ] && exit 0
      sleep 0.1
    done
    echo "the standby did not reach $want streaming: ${state:-not connected}" >&2
    exit 1
    ;;
  promote)
    as_owner "$BIN/pg_ctl" -D "$2/data" -w promote > /dev/null
    ;;
  *) echo "usage: $0 start DIR PORT | stop DIR | restart DIR | down DIR | up DIR | standby DIR PORT PRIMARY_PORT [sync|async] | promote DIR" >&2; exit 2 ;;
esac
