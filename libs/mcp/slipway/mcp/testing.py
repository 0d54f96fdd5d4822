"""Test support for services with an MCP endpoint: the official SDK's `Client` on one URL."""

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from mcp import Client
from mcp.client.session import IncomingMessage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


@asynccontextmanager
async def mcp_client(
    url: str,
    *,
    headers: Mapping[str, str],
    mode: str,
    read_timeout_seconds: float,
    on_message: Callable[[IncomingMessage], Any] | None = None,
) -> AsyncIterator[Client]:
    """A connected SDK `Client` on the streamable HTTP endpoint `url`, sending `headers`.

    `mode`: the SDK's protocol mode (`"legacy"` for the 2025-11-25 session handshake, or a
    revision such as `"2026-07-28"`); `read_timeout_seconds`: how long to wait for each answer;
    `on_message`: called with each server message that is not an answer (notifications).
    """

    async def handle(message: IncomingMessage) -> None:
        if on_message is not None:
            on_message(message)

    async with (
        create_mcp_http_client(headers=dict(headers)) as http,
        Client(
            streamable_http_client(url, http_client=http),
            mode=mode,
            read_timeout_seconds=read_timeout_seconds,
            message_handler=handle,
            cache=None,
        ) as client,
    ):
        yield client
