#!/usr/bin/env bash
# Memory under a flood of wrong passwords on one protected link (issue 6):
# 64 clients for 6 s, RSS sampled every 0.5 s during and for 15 s after.
#
#   bench/password_flood.sh [KURZ_BINARY]     default: target/release/kurz
#
# Rate limits are off, so only the hashing bound stands between the flood
# and the memory. Needs wrk and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
KURZ=${1:-target/release/kurz}
PORT=18090
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
db="sqlite://$work/flood.db"
echo 'a long password' | RUST_LOG=warn "$KURZ" --database "$db" user add flood --role admin 2>/dev/null
KEY=$(RUST_LOG=warn "$KURZ" --database "$db" key create --user flood --quiet 2>/dev/null)
RUST_LOG=error "$KURZ" --database "$db" serve --listen 127.0.0.1:$PORT --rate-limits off 2>/dev/null &
pid=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done
export SLUG
SLUG=$(curl -s -X POST "http://127.0.0.1:$PORT/api/v1/links" -H "Authorization: Bearer $KEY" \
  -H 'content-type: application/json' -d '{"url": "https://example.com/", "password": "right"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["slug"])')
rss() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' /proc/$pid/status; }
threads() { awk '/Threads/ {print $2}' /proc/$pid/status; }
echo "idle: RSS $(rss) MiB, $(threads) threads"
wrk -t2 -c64 -d6s -s bench/password_flood.lua "http://127.0.0.1:$PORT" >"$work/wrk.txt" 2>&1 &
wrkpid=$!
peak=0
while kill -0 $wrkpid 2>/dev/null; do
  r=$(rss); peak=$(awk -v a="$peak" -v b="$r" 'BEGIN {print (b > a) ? b : a}')
  sleep 0.5
done
echo "during the flood: peak RSS $peak MiB, $(threads) threads"
grep -E "Requests/sec|Non-2xx|Socket errors" "$work/wrk.txt" | sed 's/^/  wrk: /'
for s in 1 5 10 15; do
  sleep $(( s == 1 ? 1 : (s == 5 ? 4 : 5) ))
  echo "${s} s after: RSS $(rss) MiB, $(threads) threads"
done
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/$SLUG" -d password=right)
echo "the right password afterwards: HTTP $status"
