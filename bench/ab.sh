#!/usr/bin/env bash
# Two builds of kurz against each other and the baseline, in one session:
# the L1-hit scenario of bench/run.sh with both builds serving the same
# SQLite file (every link warmed into L1), loaded in turns (A, B,
# baseline, the order of A and B swapped every round) so that the
# machine's drift touches all three alike. Every round starts once the
# machine is quiet (bench/settle.sh).
#
#   KURZ_A=/tmp/kurz-before KURZ_B=target/release/kurz bench/ab.sh [LINKS] [SECONDS] [ROUNDS] [SCRIPT]
#   defaults: 1000000 10 5 random.lua (or zipf.lua, notfound.lua)
#
# RATE_LIMITS=on runs both builds with their rate limits on, at a redirect
# budget no load generator reaches: what the limiter itself costs (with
# random.lua or zipf.lua; misses would meet the "no such link" budget).
#
# Prints the median req/s, p50 / p99 of each side, each build's ratio to
# the baseline, and both builds' RSS after the load.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
D=${2:-10}
ROUNDS=${3:-5}
SCRIPT=${4:-random.lua}
: "${KURZ_A:?the first build of kurz}" "${KURZ_B:?the second build of kurz}"
APORT=18081 BPORT=18082 LPORT=18080

cargo build --release -q -p kurz-bench-baseline
work=$(mktemp -d)
pids=()
trap 'kill $(jobs -p) "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
python3 bench/gen.py "$N" "$work/export.jsonl" "$work/slugs.tsv" "$work/absent.txt"
export SLUGS=$work/slugs.tsv ABSENT=$work/absent.txt
# One database each: builds on either side of a migration cannot share one.
for side in A B; do
  bin=KURZ_$side
  "${!bin}" --database "sqlite://$work/$side.db" import --input "$work/export.jsonl" 2>/dev/null
done

target/release/baseline $LPORT "$work/slugs.tsv" 2>/dev/null &
RATE_LIMITS=${RATE_LIMITS:-off}
export KURZ_LIMITS__REDIRECT_PER_SECOND=1000000000
start() { # BIN PORT LOG DB
  KURZ_CACHE__WARMUP_ENTRIES=$N "$1" --database "sqlite://$work/$4.db" serve --listen 127.0.0.1:"$2" \
    --rate-limits "$RATE_LIMITS" >/dev/null 2>"$3" &
  echo $!
}
apid=$(start "$KURZ_A" $APORT "$work/a.log" A)
bpid=$(start "$KURZ_B" $BPORT "$work/b.log" B)
pids=("$apid" "$bpid")
for log in "$work/a.log" "$work/b.log"; do
  for _ in $(seq 1 600); do grep -q "warm-up" "$log" && break; sleep 0.5; done
done
for _ in $(seq 1 600); do curl -s -o /dev/null "http://127.0.0.1:$LPORT/x" && break; sleep 0.1; done

source bench/settle.sh
run() { # PORT -> "rps p50 p99 bad errors"
  local out
  out=$(wrk -t1 -c64 -d"$D"s --latency -s "bench/$SCRIPT" "http://127.0.0.1:$1" 2>&1)
  echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(awk '$1=="50%" {print $2}' <<<"$out") \
$(awk '$1=="99%" {print $2}' <<<"$out") $(awk '/Non-2xx or 3xx/ {print $5}' <<<"$out" | grep . || echo 0) \
$(awk '/Socket errors/ {s=0; for (i=3;i<=NF;i++) if ($i ~ /^[0-9]+,?$/) s+=$i; print s}' <<<"$out" | grep . || echo 0)"
}
for port in $APORT $BPORT $LPORT; do run $port >/dev/null; done
: >"$work/rounds"
for r in $(seq 1 "$ROUNDS"); do
  # A before B in odd rounds, B before A in even ones: whichever runs
  # second shares the machine with the first one's click flush.
  order="A:$APORT B:$BPORT baseline:$LPORT"
  [ $((r % 2)) -eq 0 ] && order="B:$BPORT A:$APORT baseline:$LPORT"
  for side in $order; do
    settle
    echo "${side%%:*} $(run "${side#*:}")" | tee -a "$work/rounds" >&2
  done
done
rss() { awk '/VmRSS/ {printf "%.0f MiB", $2 / 1024}' "/proc/$1/status"; }
echo "nproc $(nproc), $(date -u '+%F %H:%M'), $N links, wrk -t1 -c64 -d${D}s, $ROUNDS rounds of $SCRIPT"
echo "| side | median req/s | p50 / p99 (median round) | ÷ baseline | non-3xx | socket errors |"
echo "|---|---|---|---|---|---|"
base=$(awk '$1=="baseline" {print $2}' "$work/rounds" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
for side in A B baseline; do
  awk -v s=$side -v b="$base" '$1==s {n++; r[n]=$2; l[n]=$3 " / " $4; bad+=$5; err+=$6}
    END {
      for (i=1;i<=n;i++) for (j=i+1;j<=n;j++) if (r[j] < r[i]) {t=r[i]; r[i]=r[j]; r[j]=t; t=l[i]; l[i]=l[j]; l[j]=t}
      m=int((n+1)/2); printf "| %s | %.0f | %s | %.3f | %d | %d |\n", s, r[m], l[m], r[m]/b, bad, err
    }' "$work/rounds"
done
echo "RSS after the load: A $(rss "$apid"), B $(rss "$bpid")"
