"""`serving(app)`: an ASGI app on a real uvicorn server on a free local port, for tests that
need a socket (SSE streams, MCP clients, other processes) rather than an in-process client."""

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

import uvicorn
from starlette.types import ASGIApp

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Serving:
    """A started server: its base URL (no trailing slash), the server and the task serving."""

    url: str
    server: uvicorn.Server
    task: "asyncio.Task[None]"

    @property
    def port(self) -> int:
        """The port it listens on (the one in `url`)."""
        return int(self.url.rsplit(":", 1)[1])


@asynccontextmanager
async def serving(
    app: ASGIApp,
    *,
    lifespan: Literal["on", "off"] = "on",
    graceful_shutdown_seconds: int = 1,
    started_within: float = 5,
    stopped_within: float = 10,
    sock: socket.socket | None = None,
    server: uvicorn.Server | None = None,
) -> AsyncIterator[Serving]:
    """`app` served by uvicorn on 127.0.0.1 (a free port) from started until the block ends.

    uvicorn's own log config is left alone (`log_config=None`: the test's logging applies).
    A server that fails while starting raises its error here. `sock`: a socket already bound
    (for an app whose settings must name its port), else one on a free port of 127.0.0.1.
    `server`: one built already (`slipway.web.build_server(app, web)`, to test what a service's
    server does), which then serves instead of a plain one and `app`, `lifespan` and
    `graceful_shutdown_seconds` are its own. At the end: shut down within `stopped_within`
    seconds, then the socket is closed.
    """
    if sock is None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((HOST, 0))
    host, port = sock.getsockname()[:2]
    if server is None:
        config = uvicorn.Config(
            app,
            lifespan=lifespan,
            log_config=None,
            timeout_graceful_shutdown=graceful_shutdown_seconds,
        )
        server = uvicorn.Server(config)
    running = server

    async def serve() -> None:
        try:
            await running.serve(sockets=[sock])
        except SystemExit as exit_:  # uvicorn exits when the app's start-up fails
            raise RuntimeError(
                f"the server stopped before it started (exit {exit_.code})"
            ) from None

    task = asyncio.create_task(serve())
    try:
        async with asyncio.timeout(started_within):
            while not server.started:
                if task.done():
                    task.result()  # raises what stopped the server
                    raise RuntimeError("the server stopped before it started")
                await asyncio.sleep(0.01)
        yield Serving(f"http://{host}:{port}", server, task)
    finally:
        server.should_exit = True
        try:
            async with asyncio.timeout(stopped_within):
                await task
        finally:
            sock.close()
