"""The events tests' real server: an app on uvicorn on a free local port (`serving`), and
`until`, the wait for a condition the server reaches by itself."""

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI


async def until(condition: Callable[[], bool], within: float) -> None:
    """Return once `condition()` holds; AssertionError after `within` seconds without."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@dataclass(frozen=True)
class Serving:
    """A started server: its base URL, the server (to shut down) and the task serving."""

    url: str
    server: uvicorn.Server
    task: "asyncio.Task[None]"


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[Serving]:
    """`app` served by uvicorn on 127.0.0.1 (a free port) from started until the block ends.

    No lifespan, no log config of uvicorn's own, and a long grace period: streams must end by
    themselves at shutdown, not be cancelled. At the end: shut down (10 s at most), then the
    socket is closed.
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_config=None, timeout_graceful_shutdown=30)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await until(lambda: server.started, within=5)
    try:
        yield Serving(f"http://127.0.0.1:{port}", server, task)
    finally:
        server.should_exit = True
        async with asyncio.timeout(10):
            await task
        sock.close()
