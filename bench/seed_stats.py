#!/usr/bin/env python3
"""Writes SQL that gives one link 10 million clicks as hourly rollups: 90
days of hours before END_HOUR, each with breakdowns (20 referrers, 10
countries, 8 browsers, 6 OSes, 4 devices), as the click worker would have
written them. For the stats-latency scenario of bench/run.sh.

Usage: seed_stats.py LINK_ID END_HOUR [CLICKS]   (END_HOUR: hours since the epoch)
"""
import sys


def rows(table, columns, values, chunk=1000):
    for i in range(0, len(values), chunk):
        part = ", ".join("(" + ", ".join(str(v) for v in row) + ")" for row in values[i:i + chunk])
        print(f"insert into {table} ({columns}) values {part};")


def split(n, parts):
    """n split over parts, heavier first, summing exactly to n."""
    weights = [1.0 / (k + 1) for k in range(parts)]
    total = sum(weights)
    out = [int(n * w / total) for w in weights]
    out[0] += n - sum(out)
    return out


def main() -> None:
    link, end = int(sys.argv[1]), int(sys.argv[2])
    clicks = int(sys.argv[3]) if len(sys.argv) > 3 else 10_000_000
    hours = 90 * 24
    per_hour = [clicks // hours + (1 if h < clicks % hours else 0) for h in range(hours)]
    facets = {
        1: [f"'site{k}.example'" for k in range(20)],
        2: [f"'{c}'" for c in ["US", "DE", "FR", "JP", "GB", "NL", "BR", "IN", "CA", "unknown"]],
        3: [f"'{b}'" for b in ["Chrome", "Safari", "Firefox", "Edge", "Opera", "unknown", "misc crawler", "HTTP Library"]],
        4: [f"'{o}'" for o in ["Windows 10", "Mac OSX", "iPhone", "Android", "Linux", "unknown"]],
        5: ["'desktop'", "'mobile'", "'bot'", "'tablet'"],
    }
    hour_rows, facet_rows = [], []
    for h in range(hours):
        hour = end - hours + h
        total = per_hour[h]
        bots = total // 10
        hour_rows.append((link, hour, total, total - bots, bots))
        for facet, names in facets.items():
            for name, n in zip(names, split(total, len(names))):
                facet_rows.append((link, hour, facet, name, n))
    rows("click_hours", "link_id, hour, total, humans, bots", hour_rows)
    rows("click_facets", "link_id, hour, facet, name, n", facet_rows)


if __name__ == "__main__":
    main()
