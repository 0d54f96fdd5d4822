"""slipway.web.testing's `serving`: a real uvicorn server on a free port, errors at start-up
raised, the socket closed at the end."""

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from slipway.web.testing.server import serving


async def hello(_request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


async def test_serves_the_app_on_a_free_port_until_the_block_ends() -> None:
    async with serving(Starlette(routes=[Route("/", hello)])) as running:
        assert running.url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient() as client:
            response = await client.get(running.url + "/")
        assert (response.status_code, response.text) == (200, "hello")
    assert running.task.done()
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(running.url + "/")


async def test_serves_on_a_socket_it_is_given() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    async with serving(Starlette(routes=[Route("/", hello)]), sock=sock) as running:
        assert running.url == f"http://127.0.0.1:{port}"
    assert sock.fileno() == -1  # closed at the end


async def test_a_failing_start_up_is_raised_not_waited_for() -> None:
    database_up = False

    @asynccontextmanager
    async def broken(_app: Starlette) -> AsyncIterator[None]:
        if not database_up:
            raise RuntimeError("no database")
        yield

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    with pytest.raises(RuntimeError, match="stopped before it started"):
        async with serving(Starlette(lifespan=broken), started_within=5, sock=sock):
            pytest.fail("the block ran although the server never started")
    assert sock.fileno() == -1
