#!/usr/bin/env bash
# Where a running server's CPU goes, per thread name, per request.
#
#   bench/thread_cpu.sh PID PORT [SCRIPT] [SECONDS]     defaults: random.lua 10
#
# Runs `wrk -t1 -c64` against PORT with bench/SCRIPT (SLUGS / ABSENT set as
# for bench/run.sh) and prints req/s, p99, and the CPU time (utime + stime
# from /proc/PID/task/*/stat) each thread name used, in µs per request.
set -euo pipefail
cd "$(dirname "$0")/.."
PID=$1 PORT=$2 SCRIPT=${3:-random.lua} D=${4:-10}
tick_us=$((1000000 / $(getconf CLK_TCK)))
snap() {
  for t in /proc/"$PID"/task/*; do
    # The name may hold spaces: fields are counted after its ") ".
    awk -v n="$(cat "$t/comm")" '{sub(/^.*\) /, ""); print n "\t" $12 + $13}' "$t/stat" 2>/dev/null || true
  done | awk -F'\t' '{s[$1] += $2} END {for (k in s) print k "\t" s[k]}' | sort
}
before=$(snap)
out=$(wrk -t1 -c64 -d"$D"s --latency -s "bench/$SCRIPT" "http://127.0.0.1:$PORT" 2>&1)
after=$(snap)
reqs=$(awk '/requests in/ {print $1}' <<<"$out")
echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") req/s, p99 $(awk '$1=="99%" {print $2}' <<<"$out")"
join -t$'\t' <(echo "$before") <(echo "$after") | awk -F'\t' -v r="$reqs" -v us="$tick_us" '
  {d = ($3 - $2) * us; all += d; if (d > 0) printf "  %-16s %8.2f us/request\n", $1, d / r}
  END {printf "  %-16s %8.2f us/request\n", "(all)", all / r}'
