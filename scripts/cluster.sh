#!/usr/bin/env bash
# Three boxoffice nodes on one private PostgreSQL, on loopback, to try the
# cluster (README, "Run it on PostgreSQL") in one command. Prints the nodes' URLs;
# the booking page works against any of them. Ctrl-C stops everything.
#
#   scripts/cluster.sh                 # nodes on ports 8081-8083, PostgreSQL on 15460
#   NODES=2 BASE_PORT=9001 scripts/cluster.sh
#   LEASE_MS=3000 scripts/cluster.sh   # faster takeovers, to try kill -9 on a node
set -euo pipefail
cd "$(dirname "$0")/.."
NODES=${NODES:-3}
BASE_PORT=${BASE_PORT:-8081}
PG_PORT=${PG_PORT:-15460}
DIR=$(mktemp -d)
chmod 755 "$DIR"   # the postgres user works below it
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  scripts/pg.sh stop "$DIR/pg"
  rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

cargo build --release --quiet
URL=$(scripts/pg.sh start "$DIR/pg" "$PG_PORT")
echo "PostgreSQL: $URL"
for i in $(seq "$NODES"); do
  port=$((BASE_PORT + i - 1))
  # The first node seeds the demo shows (on an empty database); the
  # others find them.
  demo=$([ "$i" = 1 ] && echo "" || echo "--no-demo")
  BOXOFFICE_LEASE_MS=${LEASE_MS:-6000} BOXOFFICE_ADMIN_TOKEN=${BOXOFFICE_ADMIN_TOKEN:-admin} \
    target/release/boxoffice serve --database-url "$URL" --node-id "node-$i" \
    --bind "127.0.0.1:$port" $demo > "$DIR/node-$i.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  echo "node-$i: http://127.0.0.1:$port/   (pid ${PIDS[-1]}, log $DIR/node-$i.log)"
done
echo "cluster: curl -H 'Authorization: Bearer ${BOXOFFICE_ADMIN_TOKEN:-admin}' http://127.0.0.1:$BASE_PORT/v1/cluster"
echo "Ctrl-C stops the nodes and the database."
wait
