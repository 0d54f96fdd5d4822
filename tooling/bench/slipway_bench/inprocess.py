"""The Python cost per request of each benchmark app, without a server or sockets.

`./pants run tooling/bench:overhead -- --in-process 5000` builds the apps in this process and
drives each ASGI callable with the same GET scope the wrk runs send, timing (CPU time) best of
5 loops of N requests. It isolates the stack's own cost from uvicorn, the kernel and the noise
of a shared machine: use it to measure a change to one layer, and wrk for the end-to-end figure.
"""

import asyncio
import gc
import os
import time
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI

from slipway.logging import configure_logging
from slipway.web import WebSettings
from slipway.web.limits import LIMITS_ENFORCED
from slipway_bench.apps import bare_app, platform_app, platform_settings

REPEATS = 5
_WEB = WebSettings()
OTLP_KIND = "platform+otlp"

SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.4"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/items/42",
    "raw_path": b"/items/42",
    "root_path": "",
    "query_string": b"",
    "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"wrk"), (b"accept", b"*/*")],
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8000),
    "extensions": {},
    # What build_server's protocol adds: the URL and header limits it enforced while parsing
    # (the platform app's, the defaults), so the app does not count them again.
    LIMITS_ENFORCED: (_WEB.max_url_bytes, _WEB.max_header_bytes),
}
REQUEST: dict[str, Any] = {"type": "http.request", "body": b"", "more_body": False}


async def _receive() -> dict[str, Any]:
    return REQUEST


async def _send(_message: Any) -> None:
    return None


async def _loop(app: FastAPI, requests: int) -> float:
    """CPU seconds of this process (all threads: the span exporter's too) for `requests`
    sequential requests through `app`; CPU rather than wall time, as the machine is shared."""
    start = time.process_time()
    for _ in range(requests):
        await app({**SCOPE, "headers": list(SCOPE["headers"])}, _receive, _send)
    return time.process_time() - start


async def _best_per_request(app: FastAPI, requests: int) -> float:
    async with app.router.lifespan_context(app):
        await _loop(app, min(requests, 500))  # warm-up: route caches, label children
        gc.freeze()  # as DrainingServer does after start-up
        best = min([await _loop(app, requests) for _ in range(REPEATS)])
    return best / requests * 1e6


def _app(kind: str, otlp_endpoint: str, sample_ratio: float) -> FastAPI:
    if kind == "bare":
        return bare_app()
    settings, web = platform_settings("127.0.0.1", 8000)
    return platform_app(
        settings,
        web,
        otlp_endpoint=otlp_endpoint if kind == OTLP_KIND else None,
        sample_ratio=sample_ratio,
    )


def measured_apps(kinds: Sequence[str], sample_ratios: Sequence[float]) -> list[tuple[str, float]]:
    """(kind, sample ratio) pairs to measure: platform+otlp once per ratio, the others once."""
    pairs: list[tuple[str, float]] = []
    for kind in kinds:
        ratios = sample_ratios if kind == OTLP_KIND else sample_ratios[:1]
        pairs.extend((kind, ratio) for ratio in ratios)
    return pairs


def app_label(kind: str, sample_ratio: float, sample_ratios: Sequence[float]) -> str:
    """`platform+otlp@0.1` when several ratios are measured, else the kind."""
    if kind == OTLP_KIND and len(sample_ratios) > 1:
        return f"{kind}@{sample_ratio:g}"
    return kind


def run_in_process(
    kinds: Sequence[str], requests: int, otlp_endpoint: str, sample_ratios: Sequence[float]
) -> dict[str, float]:
    """Print and return microseconds per request for each app in `kinds` (platform+otlp at
    each of `sample_ratios`)."""
    devnull = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as logging
    configure_logging(service="bench", version="bench", environment="production", stream=devnull)
    costs: dict[str, float] = {}
    for kind, ratio in measured_apps(kinds, sample_ratios):
        label = app_label(kind, ratio, sample_ratios)
        app = _app(kind, otlp_endpoint, ratio)
        costs[label] = asyncio.run(_best_per_request(app, requests))
        print(f"{label:<20}{costs[label]:>8.1f} us/request (in-process, best of {REPEATS})")
    for base in ("bare", "platform"):
        if base in costs:
            for label, cost in costs.items():
                if label not in ("bare", base):
                    print(f"{label} adds {cost - costs[base]:.1f} us/request over {base}")
    return costs
