#!/usr/bin/env bash
# Runs every fuzz target for a fixed time (CI's smoke run; default 30 s
# each) and fails if any of them finds a crash. The committed seeds under
# corpus/<target> are read but never written: what the fuzzer adds goes to
# work/<target> (ignored by git), which later runs reuse.
#
#   fuzz/run.sh [seconds-per-target]
#
# The fuzz crate needs nightly compiler features; the stable toolchain is
# told to allow them with RUSTC_BOOTSTRAP (there is no nightly here).
set -uo pipefail
cd "$(dirname "$0")"

# One line per target; a new target is a new line here (and a [[bin]] in
# Cargo.toml, and its seeds in corpus/<name>).
targets=(
  target_url
  slug
  create_body
  blocklist
)

seconds=${1:-30}
export RUSTC_BOOTSTRAP=1
# The sanitizer is chosen in one place, for the build and the runs alike:
# AddressSanitizer by default (it builds on stable with RUSTC_BOOTSTRAP);
# FUZZ_SANITIZER=none builds faster (2.3 instead of 3.7 minutes here) and runs
# two to three times as many inputs a second, but misses memory errors in the
# dependencies' unsafe code (kurz's own crates forbid unsafe).
opts=(--release --sanitizer "${FUZZ_SANITIZER:-address}")

if ! command -v cargo-fuzz >/dev/null; then
  cargo install cargo-fuzz --locked || exit 1
fi
# One build for all targets, so its time is not charged to the first run.
cargo fuzz build "${opts[@]}" || exit 1

failed=()
for t in "${targets[@]}"; do
  echo "::: fuzz $t (${seconds} s)"
  mkdir -p "work/$t"
  if ! cargo fuzz run "${opts[@]}" "$t" "work/$t" "corpus/$t" -- \
      -max_total_time="$seconds" -print_final_stats=1; then
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz targets that crashed: ${failed[*]} (inputs in fuzz/artifacts/)"
  exit 1
fi
