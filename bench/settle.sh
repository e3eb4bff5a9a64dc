# Sourced by the bench scripts. `settle` waits (at most 30 s) until the
# machine is quiet: less than 10 % of all CPUs busy over half a second.
# Each round starts on a quiet machine, so work a server defers past its
# round (kurz's click flush, a database's writes) is not done in the next
# round, on the next server's time.
busy_ticks() { awk '/^cpu / {print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }
settle() {
  local t0 a0 b0 a1 b1
  t0=$SECONDS
  while ((SECONDS - t0 < 30)); do
    read -r a0 b0 < <(busy_ticks)
    sleep 0.5
    read -r a1 b1 < <(busy_ticks)
    (((a1 - a0) * 10 < (b1 - b0))) && return 0
  done
  echo "settle: the machine stayed busy for 30 s" >&2
}
