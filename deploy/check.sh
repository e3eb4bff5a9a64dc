#!/usr/bin/env bash
# Checks the deployment files: Prometheus rules, their unit tests and the
# example config with promtool, and the Grafana dashboard (JSON, PromQL, and
# only metric names that kurz exports). Called by CI as `bash deploy/check.sh`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# The names kurz exports (../shared/DESIGN.md, "Operating it"). Dashboards
# and alerts may use no other kurz_* name.
counters_and_gauges=(
  kurz_http_requests_total
  kurz_redirects_total
  kurz_cache_requests_total
  kurz_store_errors_total
  kurz_clicks_total
  kurz_click_details_dropped_total
  kurz_click_queue_depth
  kurz_rate_limited_total
  kurz_redis_breaker_state
  kurz_db_pool_connections
  kurz_build_info
)
histograms=(
  kurz_http_request_duration_seconds
  kurz_store_query_duration_seconds
  kurz_click_flush_duration_seconds
)

if ! command -v promtool >/dev/null; then
  echo "promtool missing: installing Debian's prometheus package"
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null
fi
command -v python3 >/dev/null || { echo "python3 is needed to check the dashboard" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== promtool check rules"
promtool check rules prometheus/alerts.yml
echo "== promtool test rules"
promtool test rules prometheus/alerts_test.yml
echo "== promtool check config"
# rule_files are relative to the config file, so this finds alerts.yml.
promtool check config prometheus/prometheus.yml

echo "== dashboard"
python3 -m json.tool grafana/kurz.json >/dev/null
# Its structure, and every query turned into a recording rule so that
# promtool parses the PromQL (Grafana's variables replaced by values).
python3 - grafana/kurz.json "$tmp/dashboard_rules.yml" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
problems = []
if d.get("uid") != "kurz":
    problems.append('uid is not "kurz"')
names = [v.get("name") for v in d.get("templating", {}).get("list", [])]
if "DS_PROMETHEUS" not in names:
    problems.append("no DS_PROMETHEUS datasource variable")
ids, exprs = set(), []
def walk(panels):
    for p in panels:
        if p.get("id") in ids:
            problems.append(f"panel id {p.get('id')} used twice")
        ids.add(p.get("id"))
        if p.get("type") != "row":
            if not p.get("targets"):
                problems.append(f"panel {p.get('title')!r} has no query")
            for t in p.get("targets", []):
                exprs.append((p.get("title"), t["expr"]))
        walk(p.get("panels", []))
walk(d.get("panels", []))
if problems:
    sys.exit("grafana/kurz.json: " + "; ".join(problems))
subst = {"$__rate_interval": "1m", "$__range": "1h", "$__interval": "1m",
         "$job": "kurz", "$instance": ".*"}
with open(sys.argv[2], "w") as out:
    out.write("groups:\n  - name: dashboard\n    rules:\n")
    for n, (title, e) in enumerate(exprs):
        for k, v in subst.items():
            e = e.replace(k, v)
        out.write(f"      # {title}\n      - record: dashboard:query_{n}\n        expr: {json.dumps(e)}\n")
print(f"{len(ids)} panels, {len(exprs)} queries")
PY
promtool check rules "$tmp/dashboard_rules.yml" >/dev/null || {
  promtool check rules "$tmp/dashboard_rules.yml" >&2
  echo "a dashboard query does not parse" >&2
  exit 1
}

echo "== metric names"
known="$tmp/known"
printf '%s\n' "${counters_and_gauges[@]}" >"$known"
for h in "${histograms[@]}"; do printf '%s\n' "$h" "${h}_bucket" "${h}_sum" "${h}_count" >>"$known"; done
used=$(grep -ohE '\bkurz_[a-zA-Z0-9_:]+' prometheus/alerts.yml prometheus/alerts_test.yml grafana/kurz.json | sort -u)
unknown=$(grep -vxF -f "$known" <<<"$used" || true)
if [ -n "$unknown" ]; then
  echo "unknown kurz metric names (not exported by kurz):" >&2
  echo "$unknown" >&2
  exit 1
fi
echo "$(wc -l <<<"$used") kurz_* names used, all known"
echo "deploy: all checks passed"
