"""Drive an app in tests without a server: lifespan started, httpx through ASGITransport."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI


@asynccontextmanager
async def app_client(
    app: FastAPI, *, base_url: str = "http://testserver", client: tuple[str, int] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and yield an AsyncClient that talks to it in-process."""
    transport = httpx.ASGITransport(
        app=app, raise_app_exceptions=False, client=client or ("127.0.0.1", 50000)
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=base_url) as http,
    ):
        yield http
