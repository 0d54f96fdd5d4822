"""The events tests' real server: an app on uvicorn on a free local port (`serving`), and
`until`, the wait for a condition the server reaches by itself."""

import asyncio
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI

from slipway.web.testing.server import Serving
from slipway.web.testing.server import serving as served


async def until(condition: Callable[[], bool], within: float) -> None:
    """Return once `condition()` holds; AssertionError after `within` seconds without."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def serving(app: FastAPI) -> AbstractAsyncContextManager[Serving]:
    """`app` on uvicorn on a free local port (slipway.web.testing's `serving`), with no
    lifespan and a long grace period: streams must end by themselves at shutdown, not be
    cancelled."""
    return served(app, lifespan="off", graceful_shutdown_seconds=30)
