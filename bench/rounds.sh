#!/usr/bin/env bash
# Rounds in turns over servers already running, each round on a quiet
# machine with every other server stopped (SIGSTOP), so no server's deferred
# work (kurz's click worker, resting after a long flush) runs in another's
# round. Per round: `bench/thread_cpu.sh` (req/s, p99, CPU per request per
# thread name).
#
#   bench/rounds.sh ROUNDS "PID PORT NAME" ["PID PORT NAME" ...]
#
# SLUGS (and ABSENT) as for bench/run.sh; SCRIPT (default random.lua) and
# SECONDS_PER_ROUND (default 8) choose the load.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/settle.sh
n=$1
shift
specs=("$@")
pids=()
for spec in "${specs[@]}"; do
  read -r p _ <<<"$spec"
  pids+=("$p")
done
trap 'kill -CONT "${pids[@]}" 2>/dev/null || true' EXIT
for _ in $(seq 1 "$n"); do
  for spec in "${specs[@]}"; do
    read -r pid port name <<<"$spec"
    for p in "${pids[@]}"; do
      [[ $p == "$pid" ]] || kill -STOP "$p"
    done
    kill -CONT "$pid"
    settle
    echo "$name: $(bench/thread_cpu.sh "$pid" "$port" "${SCRIPT:-random.lua}" "${SECONDS_PER_ROUND:-8}" | tr '\n' ' ' | tr -s ' ')"
  done
done
