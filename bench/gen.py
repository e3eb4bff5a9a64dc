#!/usr/bin/env python3
"""Writes a kurz export (JSON lines, format version 1) with N links and a
`slug<TAB>target` file for the baseline and the wrk scripts.

Usage: gen.py N EXPORT_FILE SLUGS_FILE [ABSENT_FILE]
Slugs are random 6-character base62 codes, as kurz makes them; the user
`bench` owns the links (its password hash is a placeholder: log in with a key).
Every link has visits (the first most), so kurz's warm-up can load them all.
ABSENT_FILE, if given, gets 100,000 slugs that do not exist (7 characters).
"""
import json
import random
import sys

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def main() -> None:
    n, export_path, slugs_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    absent_path = sys.argv[4] if len(sys.argv) > 4 else None
    rng = random.Random(42)
    seen = set()
    with open(export_path, "w") as out, open(slugs_path, "w") as slugs:
        out.write(json.dumps({
            "type": "header", "format": "kurz-export", "version": 1,
            "exported_at": "2026-01-01T00:00:00Z", "slug_secret": "00112233445566778899aabbccddeeff",
            "next_id": n + 1,
        }) + "\n")
        out.write(json.dumps({
            "type": "user", "username": "bench", "role": "admin", "created_at": 0,
            "password_hash": "$argon2id$v=19$m=19456,t=2,p=1$placeholder$placeholder",
        }) + "\n")
        for i in range(1, n + 1):
            while True:
                slug = "".join(rng.choice(ALPHABET) for _ in range(6))
                if slug not in seen:
                    seen.add(slug)
                    break
            target = f"https://example.com/page/{i}"
            out.write(json.dumps({
                "type": "link", "id": i, "slug": slug, "url": target, "owner": "bench",
                "created_at": 1_700_000_000_000 + i, "updated_at": 1_700_000_000_000 + i,
                "expires_at": None, "max_visits": None, "visits": n + 1 - i, "tags": [], "title": None,
                "redirect_status": None, "forward_query": False, "password_hash": None,
                "disabled": False, "pending": False, "deleted_at": None,
            }) + "\n")
            slugs.write(f"{slug}\t{target}\n")
    if absent_path:
        # 7 characters: never one of the 6-character slugs above.
        with open(absent_path, "w") as absent:
            for _ in range(100_000):
                absent.write("".join(rng.choice(ALPHABET) for _ in range(7)) + "\n")


if __name__ == "__main__":
    main()
