#!/usr/bin/env bash
# API creates per second of two builds of kurz, in turns (A B A B A B), on
# one backend: for changes to the create path, which has no baseline.
#
#   bench/create_ab.sh OLD_BINARY NEW_BINARY [sqlite|mysql|postgres] [ROUNDS]
#
# Each run gets a fresh database; wrk -t1 -c64 -d10s with bench/create.lua.
set -uo pipefail
cd "$(dirname "$0")/.."
A=$1 B=$2 backend=${3:-sqlite} rounds=${4:-3}
PORT=18131
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
fresh() {
  case $backend in
    sqlite) echo "sqlite://$work/$1.db" ;;
    mysql)
      mariadb -h 127.0.0.1 -uroot -e "drop database if exists kurz_ab_$1; create database kurz_ab_$1"
      echo "mysql://root@127.0.0.1:3306/kurz_ab_$1" ;;
    postgres)
      psql -h 127.0.0.1 -U postgres -d postgres -qc "drop database if exists kurz_ab_$1" \
        -c "create database kurz_ab_$1" >/dev/null 2>&1
      echo "postgres://postgres@127.0.0.1:5432/kurz_ab_$1" ;;
  esac
}
for round in $(seq 1 "$rounds"); do
  for side in A B; do
    bin=${!side}
    url=$(fresh "${side}${round}")
    echo 'a long password' | RUST_LOG=error "$bin" --database "$url" user add ab --role admin 2>/dev/null
    KEY=$(RUST_LOG=error "$bin" --database "$url" key create --user ab --quiet 2>/dev/null)
    export KEY
    RUST_LOG=info "$bin" --database "$url" serve --listen 127.0.0.1:$PORT --rate-limits off 2>/dev/null &
    pid=$!
    for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done
    rps=$(wrk -t1 -c64 -d10s -s bench/create.lua "http://127.0.0.1:$PORT" | awk '/Requests\/sec/ {print $2}')
    echo "$backend $side round $round: $rps creates/s"
    kill "$pid"; wait "$pid" 2>/dev/null
  done
done
