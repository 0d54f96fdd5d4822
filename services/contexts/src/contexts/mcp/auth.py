"""The bearer-token gate in front of the MCP transport, and the caller's `Actor` behind it
(slipway.mcp's resource-server bridge, with contexts' scopes and `Actor`).

Every HTTP request to the endpoint (POST messages, the GET notification stream, DELETE) goes
through slipway.auth's `BearerGate`: the same token-to-problem path as the REST API, needing
one of the `contexts:*` scopes. A verified caller's `Actor` (via `contexts.api.actor.actor_of`)
is left in the request's scope state, where the MCP handlers read it (`actor_of_request`). The
principal is also given to the SDK as its `scope["user"]`, so a session can only be used with
the credentials of the subject that opened it (the SDK answers anyone else 404, as for an
unknown session).

The endpoint is an OAuth protected resource (MCP authorization, RFC 9728):
`protected_resource_settings` makes `<public base url>/mcp` its resource identifier, which
tokens may carry as `aud` (RFC 8707), and every 401/403 challenge names its metadata URL and
`CHALLENGE_SCOPES`.
"""

from starlette.types import ASGIApp, Scope

import slipway.mcp
from contexts.api.actor import actor_of
from contexts.domain.model import Actor
from contexts.domain.policy import ADMIN_SCOPE, READ_SCOPE, WRITE_SCOPE
from contexts.settings import Settings
from slipway.auth import Authenticator, AuthSettings, BearerGate, Principal
from slipway.mcp import MCP_PATH, public_base_url

__all__ = [
    "ACTOR_STATE_KEY",
    "CHALLENGE_SCOPES",
    "CONTEXT_SCOPES",
    "MCP_PATH",
    "actor_of_request",
    "mcp_gate",
    "protected_resource_settings",
    "public_base_url",
]

ACTOR_STATE_KEY = "contexts.mcp.actor"
CONTEXT_SCOPES = (READ_SCOPE, WRITE_SCOPE, ADMIN_SCOPE)
# What a 401/403 from the endpoint tells a client to ask for: every MCP feature (resources
# and the write tools) works with these; admin is not asked for, though it would do.
CHALLENGE_SCOPES = (READ_SCOPE, WRITE_SCOPE)


def protected_resource_settings(settings: Settings) -> AuthSettings:
    """`settings.auth` as the protected resource the MCP endpoint is (RFC 9728, RFC 8707):
    `resource` defaults to `<public base url>/mcp`, `scopes_supported` to the `contexts:*`
    scopes, `resource_name` to the service name; what `auth` sets itself wins."""
    return slipway.mcp.protected_resource_settings(settings, CONTEXT_SCOPES)


def actor_of_request(scope: Scope | None) -> Actor | None:
    """The actor the gate verified for this request's scope, if any."""
    return slipway.mcp.caller_of_request(scope, ACTOR_STATE_KEY, Actor)


def mcp_gate(app: ASGIApp, authenticator: Authenticator, groups_claim: str) -> BearerGate:
    """`app` behind a `BearerGate` needing one `contexts:*` scope; admitted callers carry their
    `Actor` and the SDK's user in the scope."""

    def caller_of(principal: Principal) -> Actor:
        return actor_of(principal, groups_claim)

    return slipway.mcp.mcp_gate(
        app,
        authenticator,
        caller_of=caller_of,
        state_key=ACTOR_STATE_KEY,
        required=CONTEXT_SCOPES,
        any_of=True,
        challenge_scope=CHALLENGE_SCOPES,
    )
