"""A person-like client for bench/abuse.sh: 50 requests a second, one at a
time, to random existing links, as the forwarded address it is given.
Prints its success rate (3xx answers) and latency percentiles.

    python3 bench/normal_client.py BASE SLUGS SECONDS FORWARDED_IP
"""

import http.client
import random
import sys
import time
import urllib.parse

RATE = 50


def main():
    base, slugs_file, seconds, ip = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    with open(slugs_file) as f:
        slugs = [line.split("\t", 1)[0] for line in f if line.strip()]
    u = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    latencies, ok, statuses = [], 0, {}
    end = time.monotonic() + seconds
    next_at = time.monotonic()
    while time.monotonic() < end:
        slug = random.choice(slugs)
        started = time.perf_counter()
        try:
            conn.request("GET", "/" + slug, headers={"X-Forwarded-For": ip})
            r = conn.getresponse()
            r.read()
            status = r.status
        except (OSError, http.client.HTTPException):
            status = 0
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
        latencies.append(time.perf_counter() - started)
        statuses[status] = statuses.get(status, 0) + 1
        ok += 300 <= status < 400
        next_at += 1 / RATE
        time.sleep(max(0.0, next_at - time.monotonic()))
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    print(
        f"  normal: {len(latencies)} requests, {100 * ok / len(latencies):.2f} % redirected, "
        f"p50 {pct(0.5):.2f} ms, p99 {pct(0.99):.2f} ms, max {latencies[-1] * 1000:.2f} ms, "
        f"statuses {statuses}"
    )


if __name__ == "__main__":
    main()
