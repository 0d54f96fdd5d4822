"""Run an app under uvicorn with a graceful SIGTERM: drain first, then stop accepting.

Uvicorn's own SIGTERM handling closes the listening socket at once, so a load balancer that
still routes to the instance sees refused connections. `serve` installs its own handler
instead. On the first SIGTERM (or SIGINT) it:

1. marks the app draining: `/ready` answers 503 from that moment, while every other route
   keeps serving, new connections included;
2. waits `drain_delay_seconds` so load balancers see the 503 and take the instance out;
3. hands over to uvicorn's graceful exit: the listener closes, idle keep-alive connections
   are closed, and in-flight requests get `shutdown_grace_seconds` to finish
   (`timeout_graceful_shutdown`) before they are cancelled;
4. runs the lifespan shutdown, which stops the app's resources in reverse order.

A second SIGINT forces an immediate exit; a second SIGTERM skips the rest of the drain delay.
The process then exits 0 (uvicorn would re-raise the signal and die by it).
"""

import gc
import signal
import socket
import time
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI

from slipway.web.app import lifecycle_of
from slipway.web.lifecycle import Lifecycle
from slipway.web.settings import WebSettings


class DrainingServer(uvicorn.Server):
    """A uvicorn server whose SIGTERM drains the app before the graceful exit starts."""

    def __init__(self, config: uvicorn.Config, lifecycle: Lifecycle, drain_delay: float) -> None:
        super().__init__(config)
        self.lifecycle = lifecycle
        self.drain_delay = drain_delay
        self.exit_at: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Start draining on the first signal; exit now on a repeated one."""
        if self.exit_at is None:
            self.lifecycle.begin_draining()
            self.exit_at = time.monotonic() + self.drain_delay
        elif sig == signal.SIGINT:
            self.should_exit = True
            self.force_exit = True
        else:
            self.exit_at = time.monotonic()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start serving, then move every object alive after start-up out of the collector.

        Modules, routes, pydantic schemas and OpenTelemetry/FastAPI state are ~10^5
        long-lived objects; frozen, full collections no longer walk them on every request
        burst, which shortens the latency tail.
        """
        await super().startup(sockets)
        gc.freeze()

    async def on_tick(self, counter: int) -> bool:
        """Every 0.1 s: once the drain delay is over, begin uvicorn's graceful shutdown."""
        if self.exit_at is not None and time.monotonic() >= self.exit_at:
            self.should_exit = True
        return await super().on_tick(counter)


def build_server(app: FastAPI, web: WebSettings | None = None, **options: Any) -> DrainingServer:
    """A DrainingServer for `app`; `options` go to `uvicorn.Config` (e.g. `proxy_headers`).

    uvicorn's access log is off unless `access_log=True` is passed: `create_app`'s
    AccessLogMiddleware writes one structured line per request instead.
    """
    web = web or app.state.web_settings
    options.setdefault("access_log", False)
    config = uvicorn.Config(
        app,
        host=web.host,
        port=web.port,
        timeout_graceful_shutdown=web.shutdown_grace_seconds,
        lifespan="on",
        log_config=None,  # slipway.logging.configure_logging owns the uvicorn loggers
        **options,
    )
    return DrainingServer(config, lifecycle_of(app), web.drain_delay_seconds)


def serve(app: FastAPI, web: WebSettings | None = None, **options: Any) -> None:
    """Serve `app` until SIGTERM/SIGINT, draining gracefully; returns after shutdown."""
    server = build_server(app, web, **options)
    server.run()
    if not server.started:
        raise SystemExit(3)  # start-up failed (uvicorn has logged why)
