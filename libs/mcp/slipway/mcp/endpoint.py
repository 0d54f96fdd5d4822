"""`McpEndpoint`: an MCP server's Streamable HTTP endpoint, its mount and its lifetime.

One endpoint serves both protocol eras, on the SDK's dual-era Streamable HTTP serving (its
session manager picks the era from each request's `MCP-Protocol-Version` header): 2025-11-25
and earlier (the handshake era, `initialize` and, when stateful, `Mcp-Session-Id` sessions)
and 2026-07-28 (the stateless era: `server/discover`, every request a self-contained POST).

`InternalErrors` is the server middleware that keeps exception text off the wire: anything a
handler raises that is not an `MCPError` is logged with the slipway request id and answered
as JSON-RPC -32603 "Internal error" with only `{"request_id": ...}` as data.
"""

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from typing import Any, TypeVar

from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp import types
from mcp.server import Server, ServerRequestContext
from mcp.server.context import CallNext, HandlerResult
from mcp.server.streamable_http_manager import (
    DEFAULT_SESSION_IDLE_TIMEOUT,
    StreamableHTTPSessionManager,
)
from mcp.shared.exceptions import MCPError
from slipway.logging import current_request_id
from slipway.mcp.auth import MCP_PATH, caller_of_request
from slipway.web import Mount, problem_response

INTERNAL_ERROR_MESSAGE = "Internal error"

T = TypeVar("T")


class InternalErrors:
    """Server middleware: an unexpected exception becomes a generic -32603, in both eras.

    `MCPError` (the service's own errors, the SDK's) and pydantic's `ValidationError` (the SDK
    answers it as -32602 with no detail) pass through. Anything else is logged on `logger`
    with the slipway request id, and the client gets "Internal error" and that id, nothing
    more (nothing at all for a notification).
    """

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        try:
            return await call_next(ctx)
        except (MCPError, ValidationError):
            raise
        except Exception:
            request_id = current_request_id()
            self.logger.exception(
                "MCP %s failed (request_id=%s, jsonrpc id=%r)",
                ctx.method,
                request_id,
                ctx.request_id,
            )
            if ctx.request_id is None:
                return None  # a notification: nobody to answer
            raise MCPError(
                types.INTERNAL_ERROR, INTERNAL_ERROR_MESSAGE, {"request_id": request_id}
            ) from None


def caller_of_context(ctx: ServerRequestContext[Any, Any], state_key: str, kind: type[T]) -> T:
    """The caller `mcp_gate` admitted this handler's request with; -32600 if there is none
    (the gate lets no request through without one)."""
    caller = caller_of_request(getattr(ctx.request, "scope", None), state_key, kind)
    if caller is None:
        raise MCPError(types.INVALID_REQUEST, "not authenticated")
    return caller


class McpEndpoint:
    """The MCP endpoint: an ASGI app for `path` and the slipway.web `Resource` running it.

    `gate` wraps the transport (see `mcp_gate`); until `start` and after `stop` the transport
    answers 503 problem+json. `start` runs the SDK's session manager (its task group holds
    every session and request in flight) in a task of its own until `stop`; each start makes
    a new manager, as the SDK allows one run each. `stateless` serves no sessions (a
    2025-11-25 request is then answered on its own, too); `json_response` answers a POST with
    JSON rather than an SSE stream. Override `closing` to end what runs on the sessions (e.g.
    notification streams) before the manager stops.
    """

    name = "mcp"

    def __init__(
        self,
        server: Server[Any],
        gate: Callable[[ASGIApp], ASGIApp],
        *,
        stateless: bool,
        json_response: bool = False,
        session_idle_timeout: float | None = DEFAULT_SESSION_IDLE_TIMEOUT,
        path: str = MCP_PATH,
    ) -> None:
        self.server = server
        self.path = path
        self.stateless = stateless
        self.json_response = json_response
        self.session_idle_timeout = session_idle_timeout
        self._manager: StreamableHTTPSessionManager | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.asgi_app = gate(self._transport)

    async def _transport(self, scope: Scope, receive: Receive, send: Send) -> None:
        manager = self._manager
        if manager is None:
            response = problem_response(scope, 503, detail="the MCP endpoint is not running")
            await response(scope, receive, send)
            return
        await manager.handle_request(scope, receive, send)

    def mount(self) -> Mount:
        """The endpoint at `path` exactly (a prefix mount would redirect `/mcp` to `/mcp/`)."""
        return Mount(self.path, self.asgi_app, name="mcp", exact=True)

    async def start(self) -> None:
        """Run a new session manager until `stop`."""
        manager = StreamableHTTPSessionManager(
            app=self.server,
            stateless=self.stateless,
            json_response=self.json_response,
            session_idle_timeout=self.session_idle_timeout,
        )
        self._stopping = asyncio.Event()
        running = asyncio.Event()

        async def run() -> None:
            async with manager.run():
                self._manager = manager
                running.set()
                await self._stopping.wait()

        self._task = asyncio.create_task(run(), name="mcp-session-manager")
        started = asyncio.ensure_future(running.wait())
        await asyncio.wait({started, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not running.is_set():
            started.cancel()
            await self._task  # raises what made the manager fail
            raise RuntimeError("the MCP session manager stopped at start-up")

    async def closing(self) -> None:
        """Called by `stop` once new requests are refused, before the session manager stops."""

    async def stop(self) -> None:
        """Refuse new requests, run `closing`, then stop the session manager (ending every
        session and request in flight)."""
        self._manager = None
        await self.closing()
        if self._task is None:
            return
        self._stopping.set()
        with suppress(asyncio.CancelledError):
            await self._task
        self._task = None
