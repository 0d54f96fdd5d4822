"""MCP plumbing for Slipway services, on the `mcp` SDK: the OAuth resource-server bridge and
the Streamable HTTP endpoint that serves both protocol eras.

A service keeps its own MCP handlers (tools, resources) and builds its endpoint from these:
`mcp_gate` (slipway.auth's bearer gate, the service's caller in the request state, the
principal as the SDK's user), `protected_resource_settings` (RFC 9728 metadata for `/mcp`),
`McpEndpoint` (the mount and the session manager's lifetime, a slipway.web resource) and
`InternalErrors` (no exception text on the wire).
"""

from slipway.mcp.auth import (
    MCP_PATH,
    McpServiceSettings,
    caller_of_request,
    mcp_gate,
    protected_resource_settings,
    public_base_url,
    sdk_user,
)
from slipway.mcp.endpoint import (
    INTERNAL_ERROR_MESSAGE,
    InternalErrors,
    McpEndpoint,
    caller_of_context,
)

__all__ = [
    "INTERNAL_ERROR_MESSAGE",
    "MCP_PATH",
    "InternalErrors",
    "McpEndpoint",
    "McpServiceSettings",
    "caller_of_context",
    "caller_of_request",
    "mcp_gate",
    "protected_resource_settings",
    "public_base_url",
    "sdk_user",
]
