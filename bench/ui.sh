#!/usr/bin/env bash
# UI pages on a list of many links (issue 12: each page under 50 ms).
#
#   bench/ui.sh [LINKS] [SECONDS]          defaults: 10000 5
#   BACKENDS="sqlite mysql postgres" bench/ui.sh   (default: sqlite)
#   KURZ_BIN=/path/to/kurz bench/ui.sh
#   SEED_CLICKS=0 bench/ui.sh               (no clicks: the stats pages' floor)
#
# Imports LINKS links (bench/gen.py) owned by the admin `bench`, logs in as
# another admin (who sees every link) through the login form, then loads
# each page with wrk -t1 -c4 for SECONDS and prints p50 / p99 / req/s.
# Four connections: a few people clicking around, not a flood; the pages
# are measured, not the limits (rate limits off).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
D=${2:-5}
BACKENDS=${BACKENDS:-sqlite}
KURZ=${KURZ_BIN:-target/release/kurz}
PORT=18181
[ -x "$KURZ" ] || cargo build --release -q
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
python3 bench/gen.py "$N" "$work/export.jsonl" "$work/slugs.tsv"

fresh_url() {
  case $1 in
    sqlite) echo "sqlite://$work/ui.db" ;;
    mysql)
      mariadb -h 127.0.0.1 -uroot -e "drop database if exists kurz_ui_bench; create database kurz_ui_bench"
      echo "mysql://root@127.0.0.1:3306/kurz_ui_bench" ;;
    postgres)
      psql -h 127.0.0.1 -U postgres -d postgres -qc "drop database if exists kurz_ui_bench" -c "create database kurz_ui_bench"
      echo "postgres://postgres@127.0.0.1:5432/kurz_ui_bench" ;;
  esac
}

sql() {
  case $1 in
    sqlite://*) sqlite3 "${1#sqlite://}" ;;
    mysql://*) mariadb -h 127.0.0.1 -uroot -N kurz_ui_bench ;;
    postgres://*) psql -h 127.0.0.1 -U postgres -d kurz_ui_bench -qAt ;;
  esac
}

echo "nproc $(nproc), $(date -u +%F), $N links, wrk -t1 -c4 -d${D}s"
[ "${SEED_CLICKS:-1}" = 1 ] && echo "The first link has 10 million clicks of rollups over 90 days (bench/seed_stats.py)."
echo
echo "| store | page | req/s | p50 | p99 |"
echo "|---|---|---|---|---|"
for backend in $BACKENDS; do
  url=$(fresh_url "$backend")
  "$KURZ" --database "$url" import --input "$work/export.jsonl" 2>/dev/null
  # The stats pages read hourly rollups only, so the clicks cost rows of
  # rollups, not rows of visits. SEED_CLICKS=0 leaves the links unclicked.
  if [ "${SEED_CLICKS:-1}" = 1 ]; then
    python3 bench/seed_stats.py 1 $(( $(date +%s) / 3600 )) | sql "$url" >/dev/null
  fi
  printf 'ui-bench-password\n' | "$KURZ" --database "$url" user add uiadmin --role admin >/dev/null 2>&1
  key=$("$KURZ" --database "$url" key create --user uiadmin --quiet 2>/dev/null)
  "$KURZ" --database "$url" serve --listen 127.0.0.1:$PORT --rate-limits off 2>"$work/kurz.log" &
  pid=$!
  for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/readyz" && break; sleep 0.1; done
  base="http://127.0.0.1:$PORT"
  jar="$work/cookies"
  rm -f "$jar"
  token=$(curl -s -c "$jar" "$base/login" | grep -o 'name="csrf" value="[^"]*"' | head -1 | cut -d'"' -f4)
  curl -s -b "$jar" -c "$jar" -o /dev/null -d "csrf=$token&username=uiadmin&password=ui-bench-password" "$base/login"
  session=$(awk '$6 == "kurz_session" {print $7}' "$jar")
  [ -n "$session" ] || { echo "login failed" >&2; exit 1; }
  slug=$(head -1 "$work/slugs.tsv" | cut -f1)
  # A page deep in the list: the cursor after the first 5,000 links.
  cursor=$(curl -s -H "X-Api-Key: $key" "$base/api/v1/links?limit=1000" | python3 -c 'import json,sys; print(json.load(sys.stdin)["next_cursor"] or "")')
  for _ in 1 2 3 4; do
    cursor=$(curl -s -H "X-Api-Key: $key" "$base/api/v1/links?limit=1000&cursor=$cursor" | python3 -c 'import json,sys; print(json.load(sys.stdin)["next_cursor"] or "")')
  done
  for page in "/" "/ui/links" "/ui/links?q=${slug:0:3}" "/ui/links?cursor=$cursor" \
              "/ui/links/$slug" "/ui/links/$slug/stats" "/ui/links/$slug/stats?range=90d" \
              "/ui/links/$slug/stats?range=24h" "/ui/dashboard" "/ui/dashboard?range=90d" \
              "/ui/keys" "/admin"; do
    out=$(wrk -t1 -c4 -d"$D"s --latency -H "Cookie: kurz_session=$session" "$base$page" 2>&1)
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: kurz_session=$session" "$base$page")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1=="50%" {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    shown=${page//$cursor/<page 6>}
    echo "| $backend | \`$shown\` ($code) | $rps | $p50 | $p99 |"
  done
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
done
