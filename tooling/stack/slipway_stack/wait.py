"""`python -m slipway_stack.wait URL [URL ...]`: return once every URL answers 2xx.

The Procfile starts contexts and search behind it, so they find the authorization server (and
search finds contexts) already listening: a service that starts first would answer 401 until
its next JWKS attempt. Exits 1 with one line after `--timeout` seconds.
"""

import argparse
import sys
import time
from collections.abc import Sequence

import httpx

DEFAULT_TIMEOUT_SECONDS = 120.0
POLL_SECONDS = 0.1


def answers(client: httpx.Client, url: str) -> bool:
    """Whether `url` answers a GET with a 2xx status now."""
    try:
        return client.get(url).is_success
    except httpx.HTTPError:
        return False


def wait_for(
    urls: Sequence[str],
    *,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    poll_seconds: float = POLL_SECONDS,
) -> list[str]:
    """Poll until every URL answers 2xx or the time is up; the URLs still failing."""
    deadline = time.monotonic() + timeout_seconds
    pending = list(urls)
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while True:
            pending = [url for url in pending if not answers(client, url)]
            if not pending or time.monotonic() >= deadline:
                return pending
            time.sleep(poll_seconds)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; 0 when every URL answered, 1 when the time ran out."""
    parser = argparse.ArgumentParser(prog="slipway_stack.wait", description=__doc__)
    parser.add_argument("urls", nargs="+", metavar="URL")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS)
    args = parser.parse_args(argv)
    failing = wait_for(args.urls, timeout_seconds=args.timeout)
    if failing:
        print(f"gave up after {args.timeout:g} s waiting for {', '.join(failing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
