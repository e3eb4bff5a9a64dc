#!/usr/bin/env bash
# The benchmark of BENCHMARKS.md (method: ../shared/BENCH.md).
#
#   bench/run.sh [LINKS] [SECONDS] [ROUNDS]        defaults: 1000000 10 3
#   BACKENDS="sqlite mysql postgres" bench/run.sh  (the default; each must be running)
#   REDIS=redis://127.0.0.1:6379 bench/run.sh      (the default; for the L2 scenario)
#   KURZ_BIN=/path/to/kurz bench/run.sh            (another build of kurz)
#   BROWSER=1 bench/run.sh                         (the uniform requests, of L1, L2,
#                                                   store and overload, with a
#                                                   browser's headers)
#
# Seeds LINKS links into each backend with `kurz import`, then loads kurz and
# the baseline server in turns with wrk (-t1 -c64), ROUNDS times each, and
# prints a markdown table of medians. Every round starts once the machine
# is quiet (bench/settle.sh), so no server's deferred work (kurz's click
# flush, the database's writes) lands in the other's round. Scenarios, per
# backend:
#
#   L1 hit        default configuration (logging and click counting as
#                 shipped); the warm-up loads every link into L1 at start
#   Zipf          the same process, Zipf-like slugs
#   404 flood     a new process (after the L1 rounds' clicks are written),
#                 100,000 absent slugs at random, each
#                 round right after a pass that asks each of them once
#                 (bench/prime.lua): the negative cache answers them all;
#                 the pass's own rate is reported as the first requests
#   L2 only       cache.l1_max_entries = 0, Redis on; 100,000 of the slugs,
#                 in Redis after one pass (the baseline gets the same ones)
#   store only    no L1, no Redis: every redirect is a store lookup
#   create        API creates per second (kurz only)
#   overload      one run of uniform clicks (more than the analytics worker
#                 can write), then a graceful stop: clicks answered by kurz
#                 (wrk's count) against clicks stored in the rollups
#   stats         latency of a link's stats over 10M clicks of rollups
#                 (seeded: bench/seed_stats.py), 30 days by day and 90 by hour
#
#   SCENARIOS="l1 l2 store create overload stats" bench/run.sh  (the default;
#   any subset)
#
# Needs wrk (apt-get install wrk), python3, and redis-cli for the L2 prefix.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
D=${2:-10}
ROUNDS=${3:-3}
BACKENDS=${BACKENDS:-sqlite mysql postgres}
SCENARIOS=${SCENARIOS:-l1 l2 store create overload stats}
want() { [[ " $SCENARIOS " == *" $1 "* ]]; }
REDIS=${REDIS:-redis://127.0.0.1:6379}
KPORT=18081
BPORT=18080

cargo build --release -q -p kurz-server -p kurz-bench-baseline
KURZ=${KURZ_BIN:-$PWD/target/release/kurz}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; kill -CONT $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
python3 bench/gen.py "$N" "$work/export.jsonl" "$work/slugs.tsv" "$work/absent.txt"
head -n 100000 "$work/slugs.tsv" >"$work/slugs100k.tsv"
export ABSENT=$work/absent.txt

target/release/baseline $BPORT "$work/slugs.tsv" 2>/dev/null &
bpid=$!
for _ in $(seq 1 600); do curl -s -o /dev/null "http://127.0.0.1:$BPORT/x" && break; sleep 0.1; done

# wrk_run PORT SCRIPT SECONDS -> "rps p50 p99 bad errors" (bad: non-2xx/3xx)
wrk_run() {
  local out
  out=$(wrk -t1 -c64 -d"$3"s --latency -s "bench/$2" "http://127.0.0.1:$1" 2>&1)
  local rps p50 p99 bad errs
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx or 3xx/ {print $5}' <<<"$out"); bad=${bad:-0}
  errs=$(awk '/Socket errors/ {s=0; for (i=3;i<=NF;i++) if ($i ~ /^[0-9]+,?$/) s+=$i; print s}' <<<"$out"); errs=${errs:-0}
  echo "$rps $p50 $p99 $bad $errs"
}

source bench/settle.sh

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# alternate NAME SCRIPT [BEFORE]: ROUNDS runs of kurz and of the baseline,
# in turns; BEFORE (a command) runs before each of kurz's rounds. kurz is
# stopped (SIGSTOP) during the baseline's rounds: its click worker, resting
# after a long flush (ADR 0029), would otherwise wake in the middle of one
# and write there, on the baseline's time, what kurz's round left behind.
alternate() {
  local name=$1 script=$2 before=${3:-} k=() b=() line
  for _ in $(seq 1 "$ROUNDS"); do
    settle; [[ -n $before ]] && $before
    line=$(wrk_run $KPORT "$script" "$D"); k+=("$line")
    kill -STOP "$pid"
    settle; line=$(wrk_run $BPORT "$script" "$D"); b+=("$line")
    kill -CONT "$pid"
  done
  local krps brps ratio kbad kerr
  krps=$(printf '%s\n' "${k[@]}" | awk '{print $1}' | median)
  brps=$(printf '%s\n' "${b[@]}" | awk '{print $1}' | median)
  local kline=${k[$(( (ROUNDS - 1) / 2 ))]}
  ratio=$(awk -v a="$krps" -v b="$brps" 'BEGIN {printf "%.3f", a / b}')
  kbad=$(printf '%s\n' "${k[@]}" | awk '{s+=$4} END {print s}')
  kerr=$(printf '%s\n' "${k[@]}" | awk '{s+=$5} END {print s}')
  echo "| $backend | $name | $krps | $(cut -d' ' -f2 <<<"$kline") | $(cut -d' ' -f3 <<<"$kline") | $brps | $ratio | $kbad | $kerr |"
}

fresh_url() {
  case $1 in
    sqlite) rm -f "$work"/bench.db*; echo "sqlite://$work/bench.db" ;;
    mysql)
      mariadb -h 127.0.0.1 -uroot -e "drop database if exists kurz_bench; create database kurz_bench"
      echo "mysql://root@127.0.0.1:3306/kurz_bench" ;;
    postgres)
      psql -h 127.0.0.1 -U postgres -d postgres -qc "drop database if exists kurz_bench" -c "create database kurz_bench"
      echo "postgres://postgres@127.0.0.1:5432/kurz_bench" ;;
  esac
}

# start_kurz URL [flags...]: a kurz on KPORT, ready.
start_kurz() {
  local url=$1; shift
  "$KURZ" --database "$url" serve --listen 127.0.0.1:$KPORT --rate-limits off "$@" 2>"$work/kurz.log" &
  pid=$!
  for _ in $(seq 1 300); do
    curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$KPORT/readyz" | grep -q 200 && return
    sleep 0.1
  done
  echo "kurz did not start" >&2; exit 1
}

stop_kurz() { kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; }

# sql URL: runs standard input on the backend of URL, prints the answer.
sql() {
  case $1 in
    sqlite://*) sqlite3 "${1#sqlite://}" ;;
    mysql://*) mariadb -h 127.0.0.1 -uroot -N kurz_bench ;;
    postgres://*) psql -h 127.0.0.1 -U postgres -d kurz_bench -qAt ;;
  esac
}
# A process that is gone says so instead of ending the run (set -e).
rss() { awk '/VmRSS/ {printf "%.1f MiB", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo "(process $1 gone)"; }

# Huge pages change the L1 rows by a tenth or more (ADR 0031): say which.
thp=$(grep -o '\[[a-z]*\]' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null | tr -d '[]' || true)
echo "nproc $(nproc), $(free -g | awk '/Mem:/ {print $2}') GiB, $(date -u +%F), THP ${thp:-unknown}, $N links, wrk -t1 -c64 -d${D}s, $ROUNDS rounds"
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

  # Default configuration; the warm-up loads every link (each has visits).
  export SLUGS=$work/slugs.tsv
  if want l1; then
  KURZ_CACHE__WARMUP_ENTRIES=$N start_kurz "$url"
  for _ in $(seq 1 240); do grep -q "warm-up" "$work/kurz.log" && break; sleep 0.5; done
  grep -o 'warm-up.*' "$work/kurz.log" | head -1 | sed "s/^/$backend: /" >&2 || true
  rss_warm=$(rss "$pid")
  wrk_run $KPORT random.lua 3 >/dev/null
  wrk_run $BPORT random.lua 3 >/dev/null
  alternate "L1 hit, uniform" random.lua
  alternate "L1 hit, Zipf" zipf.lua
  # Each slug's first request is a store query; from then on the negative
  # entry answers, for negative_ttl_secs (30 s, +-10 %) from when it was
  # loaded (a hit does not renew it). A round that started cold would
  # measure those store queries instead: each of kurz's rounds starts
  # right after a pass that asks every absent slug once (its rate in the
  # first round, when no slug is cached, is the "first request" row).
  # A hit does not renew a negative entry (its TTL bounds how long a
  # missed invalidation can keep a new link unseen), so a pass that found
  # the last pass's entries still cached would leave them to expire, a
  # third of them, during the round, each a store query. Each pass after
  # the first waits until they have all expired (negative_ttl_secs + 10 %,
  # + 2 s to spare): every round then measures slugs known absent, as the
  # scenario says. (That holds while a pass and a round take less than the
  # shortest TTL, 27 s: nothing expires during a round.)
  prime_absent() {
    local out=$work/prime.out
    if [[ -n ${primed_at:-} ]]; then
      local ttl=${KURZ_CACHE__NEGATIVE_TTL_SECS:-30}
      local left=$((primed_at + ttl * 11 / 10 + 2 - SECONDS))
      ((left > 0)) && sleep "$left"
    fi
    rm -f "$work/primed"
    SLUGS=$ABSENT DONE=$work/primed wrk -t1 -c64 -d120s -s bench/prime.lua "http://127.0.0.1:$KPORT" >"$out" 2>&1 &
    local w=$!
    while [[ ! -e $work/primed ]] && kill -0 $w 2>/dev/null; do sleep 0.05; done
    kill -INT $w 2>/dev/null || true
    wait $w || true
    first+=("$(awk '/Requests\/sec/ {print $2}' "$out")")
    primed_at=$SECONDS
  }
  notes+=("$backend: import of $N links ${import_s}s; kurz RSS with $N links in L1: $rss_warm right after the warm-up, $(rss "$pid") after the L1 scenarios")
  # A new process for the 404 flood, after a graceful stop (every click
  # written): the click worker rests between flushes, long enough to look
  # quiet to `settle`, and would write the backlog of the L1 rounds in the
  # middle of the 404 rounds, with the database server's work on top.
  stop_kurz
  KURZ_CACHE__WARMUP_ENTRIES=$N start_kurz "$url"
  for _ in $(seq 1 240); do grep -q "warm-up" "$work/kurz.log" && break; sleep 0.5; done
  first=() primed_at=
  alternate "404 flood (100k absent slugs, known absent)" notfound.lua prime_absent
  echo "| $backend | 404, first request of each slug (a store query; kurz only) | ${first[0]} | – | – | – | – | – | – |"
  stop_kurz
  fi

  # Overload: every click a different link, faster than the worker writes
  # them; after a graceful stop every answered click must be in the rollups.
  if want overload; then
  KURZ_CACHE__WARMUP_ENTRIES=$N start_kurz "$url"
  for _ in $(seq 1 240); do grep -q "warm-up" "$work/kurz.log" && break; sleep 0.5; done
  stored() { echo "select coalesce(sum(total), 0), coalesce(sum(bots), 0) from click_hours;" | sql "$url" | tr '|\t' '  '; }
  read -r t0 b0 <<<"$(stored)"
  out=$(wrk -t1 -c64 -d"$D"s --latency -s bench/random.lua "http://127.0.0.1:$KPORT" 2>&1)
  answered=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  stop_kurz
  read -r t1 b1 <<<"$(stored)"
  echo "| $backend | overload: $answered clicks answered, $((t1 - t0)) stored, $((b1 - b0)) with detail | $rps | $(awk '$1=="50%" {print $2}' <<<"$out") | $(awk '$1=="99%" {print $2}' <<<"$out") | – | – | – | – |"
  fi

  # Stats of one link with 10M clicks of rollups (link 1).
  if want stats; then
  python3 bench/seed_stats.py 1 $(( $(date +%s) / 3600 )) | sql "$url" >/dev/null
  start_kurz "$url"
  slug=$(head -n 1 "$work/slugs.tsv" | cut -f1)
  from90=$(date -u -d '-89 days' +%Y-%m-%dT%H:00:00Z)
  for q in "" "?interval=hour&from=$from90"; do
    export STATS_PATH="/api/v1/links/$slug/stats$q"
    s=$(wrk -t1 -c4 -d"$D"s --latency -s bench/stats.lua "http://127.0.0.1:$KPORT" 2>&1)
    total=$(curl -s -H "Authorization: Bearer $KEY" "http://127.0.0.1:$KPORT$STATS_PATH" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
    echo "| $backend | stats of a link with 10M clicks (${q:-default: 30 days by day}; total $total) | $(awk '/Requests\/sec/ {print $2}' <<<"$s") | $(awk '$1=="50%" {print $2}' <<<"$s") | $(awk '$1=="99%" {print $2}' <<<"$s") | – | – | $(awk '/Non-2xx or 3xx/ {print $5}' <<<"$s") | – |"
  done
  stop_kurz
  fi

  if want l2; then
  # L2 only: 100k slugs in Redis after one pass.
  prefix="kurz_bench_$$:"
  redis-cli -u "$REDIS" --scan --pattern "${prefix}*" | xargs -r redis-cli -u "$REDIS" del >/dev/null
  KURZ_CACHE__L1_MAX_ENTRIES=0 KURZ_CACHE__REDIS_PREFIX=$prefix start_kurz "$url" --redis "$REDIS"
  export SLUGS=$work/slugs100k.tsv
  wrk_run $KPORT sequential.lua 10 >/dev/null
  alternate "L2 only (100k slugs in Redis)" random.lua
  stop_kurz
  redis-cli -u "$REDIS" --scan --pattern "${prefix}*" | xargs -r redis-cli -u "$REDIS" del >/dev/null
  fi

  # Store only.
  if want store || want create; then
  export SLUGS=$work/slugs.tsv
  KURZ_CACHE__L1_MAX_ENTRIES=0 start_kurz "$url"
  if want store; then
  wrk_run $KPORT random.lua 3 >/dev/null
  alternate "store only, uniform" random.lua
  fi
  if want create; then
  c=$(wrk_run $KPORT create.lua "$D")
  echo "| $backend | create (API, durable) | $(cut -d' ' -f1 <<<"$c") | $(cut -d' ' -f2 <<<"$c") | $(cut -d' ' -f3 <<<"$c") | – | – | $(cut -d' ' -f4 <<<"$c") | $(cut -d' ' -f5 <<<"$c") |"
  fi
  notes+=("$backend: kurz RSS store only, after load: $(rss "$pid")")
  stop_kurz
  fi
done
echo
printf -- '- %s\n' "${notes[@]}"
echo "- baseline RSS: $(rss "$bpid")"
