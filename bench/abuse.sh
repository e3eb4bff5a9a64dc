#!/usr/bin/env bash
# One abusive client at full speed against the redirect route, and a normal
# client beside it: the normal client's success rate and latency, with and
# without the abuser (issue 11). Rate limits on, as shipped; kurz believes
# X-Forwarded-For from 127.0.0.1, so both clients come through the same
# socket address and differ only by the forwarded one.
#
#   bench/abuse.sh [LINKS] [SECONDS] [SCRIPT]
#   defaults: 100000 15 random.lua (notfound.lua: the abuser scans made-up
#   slugs)
#
# The normal client (bench/normal_client.py) makes 50 requests a second to
# random existing links, one at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
D=${2:-15}
SCRIPT=${3:-random.lua}
KURZ=${KURZ:-target/release/kurz}
PORT=18090

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
python3 bench/gen.py "$N" "$work/export.jsonl" "$work/slugs.tsv" "$work/absent.txt"
export SLUGS=$work/slugs.tsv ABSENT=$work/absent.txt
url="sqlite://$work/bench.db"
"$KURZ" --database "$url" import --input "$work/export.jsonl" 2>/dev/null
KURZ_CACHE__WARMUP_ENTRIES=$N "$KURZ" --database "$url" serve \
  --listen 127.0.0.1:$PORT --trusted-proxies 127.0.0.1 >/dev/null 2>"$work/kurz.log" &
kpid=$!
for _ in $(seq 1 600); do grep -q "warm-up" "$work/kurz.log" && break; sleep 0.5; done

normal() { python3 bench/normal_client.py "http://127.0.0.1:$PORT" "$SLUGS" "$D" 198.51.100.1; }

echo "normal client alone:"
normal
echo "normal client beside an abuser at full speed ($SCRIPT, wrk -t1 -c64):"
wrk -t1 -c64 -d"$D"s --latency -s "bench/$SCRIPT" -H "X-Forwarded-For: 203.0.113.66" \
  "http://127.0.0.1:$PORT" >"$work/abuser.txt" 2>&1 &
wpid=$!
sleep 1
normal
wait $wpid
awk '/Requests\/sec/ {print "abuser: " $2 " answers/s"} /Non-2xx or 3xx/ {print "abuser: " $5 " refused (429) or missing"} /requests in/ {print "abuser: " $1 " requests in all"}' "$work/abuser.txt"
echo "kurz RSS: $(awk '/VmRSS/ {print $2 / 1024 " MiB"}' /proc/$kpid/status)"

# A flood of distinct addresses (one per request, 10.0.0.0/8 through the
# trusted proxy): the limiter's memory must stay bounded.
rss() { awk '/VmRSS/ {printf "%.0f MiB", $2 / 1024}' /proc/$kpid/status; }
echo "before an address flood: RSS $(rss)"
wrk -t1 -c64 -d"$D"s -s bench/flood_ips.lua "http://127.0.0.1:$PORT" >"$work/flood.txt" 2>&1
awk '/requests in/ {print "address flood: " $1 " requests, each from a new address"}' "$work/flood.txt"
echo "after it: RSS $(rss)"
