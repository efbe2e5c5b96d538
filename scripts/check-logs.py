#!/usr/bin/env python3
"""Fails when a log line carries a password, an access token, a refresh token, a password hash or a
webhook signing secret.

    check-logs.py LOG [LOG ...] [--secret TEXT ...]

`make test` runs the end-to-end and contract stages with the functions at `LOG_LEVEL=debug`, the
most talkative level the template allows (`trace` is refused: there the Lambda runtime logs whole
events), and then reads their logs with this. `--secret` adds literal texts (the passwords the run
used) to the patterns below. The offending lines are shown with the secret cut out."""
import argparse
import re
import sys

PATTERNS = {
    "an access token (JWT)": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"),
    "a refresh token": re.compile(r"rt1\.[0-9A-Za-z]{26}\.[0-9A-Za-z]{26}\.[A-Za-z0-9_-]{43}"),
    "a password hash": re.compile(r"\$argon2(id|i|d)\$"),
    "a webhook signing secret": re.compile(r"whsec_[A-Za-z0-9+/]{16,}"),
    # `"password": "..."`, also inside an escaped JSON string (`\"password\":\"...\"`).
    "a password field with its value": re.compile(r"""password\\*["']?\s*[:=]\s*\\*["'][^"'\\]+""", re.I),
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("logs", nargs="+")
    p.add_argument("--secret", action="append", default=[])
    a = p.parse_args()
    patterns = dict(PATTERNS)
    for s in a.secret:
        patterns[f"the password {s[:2]}…"] = re.compile(re.escape(s))
    lines = leaks = 0
    for path in a.logs:
        with open(path, errors="replace") as f:
            for n, line in enumerate(f, 1):
                lines += 1
                for what, rx in patterns.items():
                    m = rx.search(line)
                    if m:
                        leaks += 1
                        shown = line[: m.start()] + "<" + what + ">" + line[m.end():]
                        print(f"LEAK  {path}:{n}: {what}: {shown.strip()[:300]}")
    print(f"logs: {lines} lines read, {leaks} carrying a password, token, refresh token or hash")
    sys.exit(1 if leaks or lines == 0 else 0)


if __name__ == "__main__":
    main()
