"""Run an app under uvicorn with a graceful SIGTERM: drain first, then stop accepting.

Uvicorn's own SIGTERM handling closes the listening socket at once, so a load balancer that
still routes to the instance sees refused connections. `serve` installs its own handler
instead. On the first SIGTERM (or SIGINT) it:

1. marks the app draining: `/ready` answers 503 from that moment, while every other route
   keeps serving, new connections included, each response with `Connection: close`
   (`slipway.web.response_cycle`, or `slipway.web.draining` around an app served by
   another protocol) so no client reuses a connection the exit will close;
2. waits `drain_delay_seconds` so load balancers see the 503 and take the instance out;
3. hands over to uvicorn's graceful exit: the listener closes (connections already queued
   on it are accepted and answered, not reset), idle keep-alive connections are closed,
   and in-flight requests get `shutdown_grace_seconds` to finish
   (`timeout_graceful_shutdown`) before they are cancelled;
4. runs the lifespan shutdown, which stops the app's resources in reverse order.

A SIGINT (Ctrl-C) skips step 2: nothing routes to a development server by its readiness. A
second SIGINT forces an immediate exit; a second SIGTERM skips the rest of the drain delay.
The process then exits 0 (uvicorn would re-raise the signal and die by it).

Requests uvicorn cannot hand to the app are answered with problems too, not uvicorn's plain
text: `ProblemHttpToolsProtocol` refuses a request target over `web.max_url_bytes` (414) and
a header block over `web.max_header_bytes` (431) while parsing, before buffering more of
them (httptools itself has no limit on either, and fails any URL over 64 KiB with a 400),
and answers every other unparsable request with a 400 problem.
"""

import asyncio
import gc
import signal
import socket
import time
from http import HTTPStatus
from types import FrameType
from typing import Any

import orjson
import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from slipway.web.app import lifecycle_of
from slipway.web.draining import CloseWhenDraining, accept_pending
from slipway.web.lifecycle import Lifecycle
from slipway.web.limits import LIMITS_ENFORCED
from slipway.web.response_cycle import PlatformCycle, with_cycle_class
from slipway.web.settings import WebSettings


class _RequestRefusedError(Exception):
    """Raised from a parser callback to stop parsing; httptools turns it into a parse error."""


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, answering what it refuses with `application/problem+json`.

    `build_server` makes a subclass with the app's limits and lifecycle (`limited_protocol`).
    Each request's cycle is a `PlatformCycle` (`slipway.web.response_cycle`): uvicorn's, with
    each distinct response header checked once and `Connection: close` while draining.
    """

    on_headers_complete = with_cycle_class(HttpToolsProtocol.on_headers_complete, PlatformCycle)

    max_url_bytes = 8192
    max_header_bytes = 32768
    # After a refusal the rest of the request is read and dropped for at most this long:
    # closing with unread data makes the kernel send a reset, which can destroy the answer
    # before the client reads it.
    linger_seconds = 2.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._refusal: tuple[int, str] | None = None
        self._header_bytes = 0
        self._lingering = False

    def data_received(self, data: bytes) -> None:
        """Parse, unless the connection was refused: then drop what still arrives."""
        if not self._lingering:
            super().data_received(data)

    def on_message_begin(self) -> None:
        """A new request: reset the counters; its scope says which limits parsing enforced."""
        super().on_message_begin()
        self._refusal = None
        self._header_bytes = 0
        self._mark_limits()

    def _mark_limits(self) -> None:
        """Tell the app, in the request's scope, which limits this parsing enforces."""
        if not self.root_path:
            # With a root path the app's target is longer than the one on the wire (counted
            # here): RequestLimitsMiddleware must then count again.
            limits = (self.max_url_bytes, self.max_header_bytes)
            self.scope[LIMITS_ENFORCED] = limits  # type: ignore[literal-required]

    def on_url(self, url: bytes) -> None:
        """Collect the target; refuse it once it is longer than the limit."""
        super().on_url(url)
        if len(self.url) > self.max_url_bytes:
            self._refusal = (414, f"request target exceeds {self.max_url_bytes} bytes")
            raise _RequestRefusedError

    def on_header(self, name: bytes, value: bytes) -> None:
        """Count the header block; refuse it once it is larger than the limit."""
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes > self.max_header_bytes:
            self._refusal = (431, f"request headers exceed {self.max_header_bytes} bytes")
            raise _RequestRefusedError
        super().on_header(name, value)

    def send_400_response(self, msg: str) -> None:
        """Answer an unparsable or refused request with a problem, then close."""
        status, detail = self._refusal or (400, msg)
        phrase = HTTPStatus(status).phrase
        body = orjson.dumps(
            {"type": "about:blank", "title": phrase, "status": status, "detail": detail}
        )
        content = [f"HTTP/1.1 {status} {phrase}\r\n".encode("ascii")]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/problem+json\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"x-content-type-options: nosniff\r\n",
                b"connection: close\r\n",
                b"\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self._lingering = True
        if self.transport.can_write_eof():
            self.transport.write_eof()  # the answer, then FIN; the client's rest is dropped
            self.loop.call_later(self.linger_seconds, self.transport.close)
        else:
            self.transport.close()


def limited_protocol(
    web: WebSettings, lifecycle: Lifecycle | None = None
) -> type[ProblemHttpToolsProtocol]:
    """A `ProblemHttpToolsProtocol` refusing what exceeds `web`'s URL and header limits.

    With `lifecycle`, its responses say `Connection: close` while that lifecycle drains
    (what `CloseWhenDraining` does around an app served some other way).
    """
    cycle = type("LifecycleCycle", (PlatformCycle,), {"lifecycle": lifecycle})
    return type(
        "LimitedHttpToolsProtocol",
        (ProblemHttpToolsProtocol,),
        {
            "max_url_bytes": web.max_url_bytes,
            "max_header_bytes": web.max_header_bytes,
            "on_headers_complete": with_cycle_class(HttpToolsProtocol.on_headers_complete, cycle),
        },
    )


# How long the graceful exit lets the loop read requests already sent before closing idle
# connections (one loop iteration would do; this covers a busy loop).
PENDING_READ_SECONDS = 0.05
# How long it waits for connections that are open but have not sent a request yet (just
# accepted: the client is about to send) before closing them too.
FIRST_REQUEST_SECONDS = 1.0


class DrainingServer(uvicorn.Server):
    """A uvicorn server whose SIGTERM drains the app before the graceful exit starts.

    `repeated_signal_seconds` (0: off; a worker under `slipway.web.workers` sets it): a
    SIGTERM that arrives this soon after the first is the same one delivered twice, to the
    process group and by the supervisor, and does not end the drain delay early.
    """

    repeated_signal_seconds = 0.0

    def __init__(self, config: uvicorn.Config, lifecycle: Lifecycle, drain_delay: float) -> None:
        super().__init__(config)
        self.lifecycle = lifecycle
        self.drain_delay = drain_delay
        self.exit_at: float | None = None
        self.first_signal_at = 0.0

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Start draining on the first signal; exit now on a repeated one."""
        now = time.monotonic()
        if self.exit_at is None:
            self.lifecycle.begin_draining()
            self.first_signal_at = now
            # The delay is for load balancers, which stop an instance with SIGTERM; SIGINT is
            # Ctrl-C (also as `pants run` forwards it, killing what is still up 3 s later).
            self.exit_at = now + (0.0 if sig == signal.SIGINT else self.drain_delay)
        elif sig == signal.SIGTERM and now - self.first_signal_at < self.repeated_signal_seconds:
            return
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

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Close the listeners without resetting what already reached them, then exit.

        Connections queued in the kernel are accepted and served (`accept_pending`), the
        loop gets a moment to read requests already sent on open connections, and
        connections that have not sent their first request yet get up to
        `FIRST_REQUEST_SECONDS` to send it; uvicorn's shutdown then finds them in progress
        (answered, `Connection: close`) rather than idle (closed with the request unread:
        a reset, or before the client wrote it: an EOF).
        """
        if not self.force_exit:
            pending = accept_pending(self.servers)
            for server in self.servers:
                server.close()
            loop = asyncio.get_running_loop()
            for connection in pending:
                try:
                    await loop.connect_accepted_socket(
                        self._http_protocol, connection, ssl=self.config.ssl
                    )
                except OSError:
                    connection.close()
            await asyncio.sleep(PENDING_READ_SECONDS)
            for _ in range(round(FIRST_REQUEST_SECONDS / PENDING_READ_SECONDS)):
                if not self._silent_connections():
                    break
                await asyncio.sleep(PENDING_READ_SECONDS)
        await super().shutdown(sockets)

    def _silent_connections(self) -> int:
        """How many open connections have not sent their first request yet."""
        return sum(
            1
            for connection in self.server_state.connections
            if getattr(connection, "cycle", True) is None
        )

    def _http_protocol(self) -> asyncio.Protocol:
        """A connection's protocol, as uvicorn's start-up makes it."""
        protocol: asyncio.Protocol = self.config.http_protocol_class(  # type: ignore[call-arg]
            config=self.config, server_state=self.server_state, app_state=self.lifespan.state
        )
        return protocol

    async def on_tick(self, counter: int) -> bool:
        """Every 0.1 s: once the drain delay is over, begin uvicorn's graceful shutdown."""
        if self.exit_at is not None and time.monotonic() >= self.exit_at:
            self.should_exit = True
        return await super().on_tick(counter)


def build_server(app: FastAPI, web: WebSettings | None = None, **options: Any) -> DrainingServer:
    """A DrainingServer for `app`; `options` go to `uvicorn.Config` (e.g. `proxy_headers`).

    uvicorn's access log is off unless `access_log=True` is passed: `create_app`'s
    AccessLogMiddleware writes one structured line per request instead. The HTTP protocol
    is `limited_protocol(web, lifecycle)` (httptools; its responses say `Connection: close`
    while the app drains) unless `http=` is passed (then `CloseWhenDraining` wraps the app
    to do that). Responses carry no `Server: uvicorn` header unless `server_header=True` is
    passed: it tells a scanner what to try and a client nothing it needs (OWASP's secure
    headers project drops it too).
    """
    web = web or app.state.web_settings
    options.setdefault("access_log", False)
    options.setdefault("server_header", False)
    lifecycle = lifecycle_of(app)
    served: ASGIApp = app
    if "http" in options:
        # No keep-alive reuse racing the listener's close: the protocol built here does it
        # itself (`PlatformCycle`), any other needs this layer around the app.
        served = CloseWhenDraining(app, lifecycle)
    else:
        options["http"] = limited_protocol(web, lifecycle)
    config = uvicorn.Config(
        served,
        host=web.host,
        port=web.port,
        timeout_graceful_shutdown=web.shutdown_grace_seconds,
        lifespan="on",
        log_config=None,  # slipway.logging.configure_logging owns the uvicorn loggers
        **options,
    )
    return DrainingServer(config, lifecycle, web.drain_delay_seconds)


def serve(app: FastAPI, web: WebSettings | None = None, **options: Any) -> None:
    """Serve `app` until SIGTERM/SIGINT, draining gracefully; returns after shutdown.

    One process: with `web.workers > 1` each worker must build its own app, so run the
    service with `Service.main()` (or `slipway.web.workers.serve_workers(factory, web)`).
    """
    web = web or app.state.web_settings
    if web.workers > 1:
        raise ValueError(
            f"web.workers={web.workers}: an app built in this process cannot be served by"
            " several; run Service.main() or slipway.web.workers.serve_workers(factory, web)"
        )
    server = build_server(app, web, **options)
    server.run()
    if not server.started:
        raise SystemExit(3)  # start-up failed (uvicorn has logged why)
