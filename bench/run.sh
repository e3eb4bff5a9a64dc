#!/usr/bin/env bash
# The benchmark of BENCHMARKS.md (method: ../shared/BENCH.md).
#
#   bench/run.sh [LINKS] [SECONDS] [ROUNDS]        defaults: 1000000 10 3
#   BACKENDS="sqlite mysql postgres" bench/run.sh  (the default; each must be running)
#
# Seeds LINKS links into each backend with `kurz import`, then loads kurz and
# the baseline server in turns with wrk (-t1 -c64) and prints a markdown
# table of medians. Needs wrk (apt-get install wrk) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
D=${2:-10}
ROUNDS=${3:-3}
BACKENDS=${BACKENDS:-sqlite mysql postgres}
KPORT=18081
BPORT=18080

cargo build --release -q -p kurz-server -p kurz-bench-baseline
# KURZ_BIN benchmarks another build of kurz (an earlier commit, say).
KURZ=${KURZ_BIN:-$PWD/target/release/kurz}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
python3 bench/gen.py "$N" "$work/export.jsonl" "$work/slugs.tsv"
export SLUGS=$work/slugs.tsv

target/release/baseline $BPORT "$SLUGS" 2>/dev/null &
for _ in $(seq 1 600); do curl -s -o /dev/null "http://127.0.0.1:$BPORT/x" && break; sleep 0.1; done

# wrk_run NAME PORT SCRIPT SECONDS -> "rps p50 p99 bad errors" (bad: non-2xx/3xx)
wrk_run() {
  local out
  out=$(wrk -t1 -c64 -d"$4"s --latency -s "bench/$3" "http://127.0.0.1:$2" 2>&1)
  local rps p50 p99 bad errs
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx or 3xx/ {print $5}' <<<"$out"); bad=${bad:-0}
  errs=$(awk '/Socket errors/ {s=0; for (i=3;i<=NF;i++) if ($i ~ /^[0-9]+,?$/) s+=$i; print s}' <<<"$out"); errs=${errs:-0}
  echo "$rps $p50 $p99 $bad $errs"
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# alternate NAME SCRIPT: ROUNDS runs of kurz and of the baseline, in turns.
alternate() {
  local name=$1 script=$2 k=() b=() line
  for _ in $(seq 1 "$ROUNDS"); do
    line=$(wrk_run kurz $KPORT "$script" "$D"); k+=("$line")
    line=$(wrk_run base $BPORT "$script" "$D"); b+=("$line")
  done
  local krps brps
  krps=$(printf '%s\n' "${k[@]}" | awk '{print $1}' | median)
  brps=$(printf '%s\n' "${b[@]}" | awk '{print $1}' | median)
  local kline=${k[$(( (ROUNDS - 1) / 2 ))]} bline=${b[$(( (ROUNDS - 1) / 2 ))]}
  local ratio
  ratio=$(awk -v a="$krps" -v b="$brps" 'BEGIN {printf "%.2f", a / b}')
  local kbad kerr
  kbad=$(printf '%s\n' "${k[@]}" | awk '{s+=$4} END {print s}')
  kerr=$(printf '%s\n' "${k[@]}" | awk '{s+=$5} END {print s}')
  echo "| $backend | $name | $krps | $(cut -d' ' -f2 <<<"$kline") | $(cut -d' ' -f3 <<<"$kline") | $brps | $ratio | $kbad | $kerr |"
}

fresh_url() {
  case $1 in
    sqlite) echo "sqlite://$work/bench.db" ;;
    mysql)
      mariadb -h 127.0.0.1 -uroot -e "drop database if exists kurz_bench; create database kurz_bench"
      echo "mysql://root@127.0.0.1:3306/kurz_bench" ;;
    postgres)
      psql -h 127.0.0.1 -U postgres -d postgres -qc "drop database if exists kurz_bench" -c "create database kurz_bench"
      echo "postgres://postgres@127.0.0.1:5432/kurz_bench" ;;
  esac
}

echo "nproc $(nproc), $(free -g | awk '/Mem:/ {print $2}') GiB, $(date -u +%F), $N links, wrk -t1 -c64 -d${D}s, $ROUNDS rounds"
echo
echo "| store | scenario | kurz req/s | kurz p50 | kurz p99 | baseline req/s | ÷ baseline | kurz non-3xx | socket errors |"
echo "|---|---|---|---|---|---|---|---|---|"
notes=()
for backend in $BACKENDS; do
  url=$(fresh_url "$backend")
  start=$(date +%s.%N)
  "$KURZ" --database "$url" import --input "$work/export.jsonl" 2>/dev/null
  import_s=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}')
  export KEY
  KEY=$("$KURZ" --database "$url" key create --user bench --quiet 2>/dev/null)
  "$KURZ" --database "$url" serve --listen 127.0.0.1:$KPORT --rate-limits off 2>/dev/null &
  pid=$!
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$KPORT/healthz" && break; sleep 0.1; done
  wrk_run kurz $KPORT random.lua 3 >/dev/null
  wrk_run base $BPORT random.lua 3 >/dev/null
  alternate "redirect, uniform (store only: no cache yet)" random.lua
  alternate "redirect, Zipf" zipf.lua
  alternate "404 flood (baseline 404s too)" notfound.lua
  c=$(wrk_run kurz $KPORT create.lua "$D")
  echo "| $backend | create (API, durable) | $(cut -d' ' -f1 <<<"$c") | $(cut -d' ' -f2 <<<"$c") | $(cut -d' ' -f3 <<<"$c") | – | – | $(cut -d' ' -f4 <<<"$c") | $(cut -d' ' -f5 <<<"$c") |"
  rss=$(awk '/VmRSS/ {print $2 / 1024 " MiB"}' /proc/$pid/status)
  notes+=("$backend: import of $N links ${import_s}s; kurz RSS after load $rss")
  kill -TERM $pid; wait $pid 2>/dev/null || true
done
echo
printf -- '- %s\n' "${notes[@]}"
echo "- baseline RSS: $(awk '/VmRSS/ {print $2 / 1024 " MiB"}' /proc/$(pgrep -f "release/baseline $BPORT")/status)"
