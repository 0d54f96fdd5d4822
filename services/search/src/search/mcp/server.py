"""`build_mcp`: the search MCP server, its Streamable HTTP endpoint and its lifetime.

Clients connect to `http://<host>:<port>/mcp` with `Authorization: Bearer <token>`, the same
tokens as the REST API (`contexts:read`). The SDK's session manager runs stateless (a search
keeps no state between calls), and serves both protocol eras from each request's
`MCP-Protocol-Version` header: 2025-11-25 and earlier (`initialize`, then requests), and
2026-07-28 (`server/discover`, every request a self-contained POST).

One tool, `search_contexts` (see `tools`). Errors: an unknown tool is JSON-RPC -32602;
refused arguments and searches are `isError` tool results carrying a problem; any other
exception of a handler is logged with the request id and answered as JSON-RPC -32603
"Internal error" with only `{"request_id": ...}` as data: no exception text reaches a client.
"""

import asyncio
import logging
from contextlib import suppress
from typing import Any

from mcp import types
from mcp.server import Server, ServerRequestContext
from mcp.server.context import CallNext, HandlerResult
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError
from starlette.types import Receive, Scope, Send

from search.domain.model import Reader
from search.domain.ports import SearchIndex
from search.mcp.auth import MCP_PATH, mcp_gate, reader_of_request
from search.mcp.tools import TOOL_NAME, search_contexts, tool_list
from slipway.auth import Authenticator
from slipway.logging import current_request_id
from slipway.web import Mount, problem_response

logger = logging.getLogger(__name__)

SERVER_NAME = "search"
INTERNAL_ERROR_MESSAGE = "Internal error"
INSTRUCTIONS = (
    "Full-text search over the contexts registry: the search_contexts tool finds the contexts "
    "you may read, best first, with highlighted snippets; read one from contexts by its href."
)


class InternalErrors:
    """Server middleware: an unexpected exception becomes a generic -32603, in both eras.

    `MCPError` and pydantic's `ValidationError` (the SDK answers it as -32602) pass through.
    Anything else is logged with the slipway request id; the client gets only that id."""

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        try:
            return await call_next(ctx)
        except (MCPError, ValidationError):
            raise
        except Exception:
            request_id = current_request_id()
            logger.exception(
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


def _reader(ctx: ServerRequestContext[Any, Any]) -> Reader:
    reader = reader_of_request(getattr(ctx.request, "scope", None))
    if reader is None:  # the gate lets no request through without one
        raise MCPError(types.INVALID_REQUEST, "not authenticated")
    return reader


class McpHandlers:
    """The MCP request handlers, on the index."""

    def __init__(self, index: SearchIndex, contexts_url: str) -> None:
        self._index = index
        self._contexts_url = contexts_url.rstrip("/")

    async def list_tools(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        """The one tool."""
        _reader(ctx)
        return types.ListToolsResult(tools=tool_list())

    async def call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        """Run `search_contexts` as the caller."""
        reader = _reader(ctx)
        if params.name != TOOL_NAME:
            raise MCPError(types.INVALID_PARAMS, f"unknown tool: {params.name}")
        return await search_contexts(self._index, reader, self._contexts_url, params.arguments)


class McpEndpoint:
    """The MCP endpoint: an ASGI app for `/mcp` and the slipway.web `Resource` running it.

    `start` runs the SDK's session manager (its task group holds the requests in flight) in a
    task of its own until `stop`; each start makes a new manager, as the SDK allows one run.
    """

    name = "mcp"

    def __init__(
        self,
        server: Server[Any],
        authenticator: Authenticator,
        *,
        groups_claim: str,
        path: str = MCP_PATH,
    ) -> None:
        self.server = server
        self.path = path
        self._manager: StreamableHTTPSessionManager | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.asgi_app = mcp_gate(self._transport, authenticator, groups_claim)

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
        manager = StreamableHTTPSessionManager(app=self.server, stateless=True, json_response=True)
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

    async def stop(self) -> None:
        """Stop the session manager (ending the requests in flight)."""
        self._manager = None
        if self._task is None:
            return
        self._stopping.set()
        with suppress(asyncio.CancelledError):
            await self._task
        self._task = None


def build_mcp(
    index: SearchIndex,
    authenticator: Authenticator,
    *,
    groups_claim: str = "groups",
    contexts_url: str = "",
    version: str = "",
) -> McpEndpoint:
    """The search MCP endpoint on `index`, behind `authenticator`'s bearer gate."""
    handlers = McpHandlers(index, contexts_url)
    server: Server[Any] = Server(
        SERVER_NAME,
        version=version,
        instructions=INSTRUCTIONS,
        on_list_tools=handlers.list_tools,
        on_call_tool=handlers.call_tool,
    )
    server.middleware.append(InternalErrors())
    return McpEndpoint(server, authenticator, groups_claim=groups_claim)
