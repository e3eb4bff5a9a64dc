#!/usr/bin/env bash
# kurz against Shlink's own clients: the JS SDK and the web component in
# headless Chromium. Needs KURZ_BIN (the kurz binary to start; default: the
# workspace's target/debug/kurz) and Chromium (KURZ_TEST_CHROMIUM, default
# /usr/bin/chromium). Everything else comes from the npm registry through
# the committed package-lock.json.
set -euo pipefail
# A relative KURZ_BIN means relative to where run.sh was called from.
if [ -n "${KURZ_BIN:-}" ]; then KURZ_BIN=$(realpath -m "$KURZ_BIN"); fi
cd "$(dirname "$0")"
export KURZ_BIN=${KURZ_BIN:-$(realpath -m ../../target/debug/kurz)}
npm ci --no-audit --no-fund --loglevel=error >/dev/null
exec node --test --test-reporter=spec test/*.test.js
