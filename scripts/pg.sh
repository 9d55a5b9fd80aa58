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
  *) echo "usage: $0 start DIR PORT | stop DIR | restart DIR | down DIR | up DIR" >&2; exit 2 ;;
esac
