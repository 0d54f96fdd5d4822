"""`build_mcp`: the search MCP server, on slipway.mcp's Streamable HTTP endpoint.

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

import logging
from typing import Any

from mcp import types
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError
from starlette.types import ASGIApp

from search.domain.model import Reader
from search.domain.ports import SearchIndex
from search.mcp.auth import READER_STATE_KEY, mcp_gate
from search.mcp.tools import TOOL_NAME, search_contexts, tool_list
from slipway.auth import Authenticator
from slipway.mcp import InternalErrors, McpEndpoint, caller_of_context

logger = logging.getLogger(__name__)

SERVER_NAME = "search"
INSTRUCTIONS = (
    "Full-text search over the contexts registry: the search_contexts tool finds the contexts "
    "you may read, best first, with highlighted snippets; read one from contexts by its href."
)


def _reader(ctx: ServerRequestContext[Any, Any]) -> Reader:
    return caller_of_context(ctx, READER_STATE_KEY, Reader)


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
    server.middleware.append(InternalErrors(logger))

    def gate(app: ASGIApp) -> ASGIApp:
        return mcp_gate(app, authenticator, groups_claim)

    # Stateless (a search keeps no state between calls), every answer plain JSON.
    return McpEndpoint(server, gate, stateless=True, json_response=True)
