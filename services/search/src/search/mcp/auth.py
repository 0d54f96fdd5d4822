"""The bearer-token gate in front of the MCP transport, and the caller's `Reader` behind it
(slipway.mcp's resource-server bridge, with search's scope and `Reader`).

Every HTTP request to the endpoint goes through slipway.auth's `BearerGate`: the same
token-to-problem path as the REST API, needing `contexts:read` (or `contexts:admin`). The
verified caller's `Reader` is left in the request's scope state, where the tool reads it
(`reader_of_request`); the principal is also the SDK's `scope["user"]`.

The endpoint is an OAuth protected resource (MCP authorization, RFC 9728):
`protected_resource_settings` makes `<public base url>/mcp` its resource identifier, which
tokens may carry as `aud` (RFC 8707), and every 401/403 challenge names its metadata URL.
"""

from starlette.types import ASGIApp, Scope

import slipway.mcp
from search.api.reader import reader_of
from search.domain.acl import ADMIN_SCOPE, READ_SCOPE
from search.domain.model import Reader
from search.settings import Settings
from slipway.auth import Authenticator, AuthSettings, BearerGate, Principal
from slipway.mcp import MCP_PATH, public_base_url

__all__ = [
    "MCP_PATH",
    "READER_STATE_KEY",
    "SCOPES",
    "mcp_gate",
    "protected_resource_settings",
    "public_base_url",
    "reader_of_request",
]

READER_STATE_KEY = "search.mcp.reader"
SCOPES = (READ_SCOPE, ADMIN_SCOPE)


def protected_resource_settings(settings: Settings) -> AuthSettings:
    """`settings.auth` as the protected resource the MCP endpoint is (RFC 9728, RFC 8707):
    `resource` defaults to `<public base url>/mcp`, `scopes_supported` to the read and admin
    scopes, `resource_name` to the service name; what `auth` sets itself wins."""
    return slipway.mcp.protected_resource_settings(settings, SCOPES)


def reader_of_request(scope: Scope | None) -> Reader | None:
    """The reader the gate verified for this request's scope, if any."""
    return slipway.mcp.caller_of_request(scope, READER_STATE_KEY, Reader)


def mcp_gate(app: ASGIApp, authenticator: Authenticator, groups_claim: str) -> BearerGate:
    """`app` behind a `BearerGate` needing `contexts:read` (admin implies it); admitted
    callers carry their `Reader` and the SDK's user in the scope."""

    def caller_of(principal: Principal) -> Reader:
        return reader_of(principal, groups_claim)

    return slipway.mcp.mcp_gate(
        app,
        authenticator,
        caller_of=caller_of,
        state_key=READER_STATE_KEY,
        required=(READ_SCOPE,),
        challenge_scope=(READ_SCOPE,),
    )
