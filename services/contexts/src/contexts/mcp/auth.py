"""The bearer-token gate in front of the MCP transport, and the caller's `Actor` behind it.

Every HTTP request to the endpoint (POST messages, the GET notification stream, DELETE) goes
through slipway.auth's `BearerGate`: the same token-to-problem path as the REST API, needing
one of the `contexts:*` scopes. A verified caller's `Actor` (via `contexts.api.actor.actor_of`)
is left in the request's scope state, where the MCP handlers read it (`actor_of_request`). The
principal is also given to the SDK as its `scope["user"]`, so a session can only be used with
the credentials of the subject that opened it (the SDK answers anyone else 404, as for an
unknown session).
"""

from typing import Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.types import ASGIApp, Scope

from contexts.api.actor import actor_of
from contexts.domain.model import Actor
from contexts.domain.policy import ADMIN_SCOPE, READ_SCOPE, WRITE_SCOPE
from slipway.auth import Authenticator, BearerGate, Principal, bearer_token_of

ACTOR_STATE_KEY = "contexts.mcp.actor"
CONTEXT_SCOPES = (READ_SCOPE, WRITE_SCOPE, ADMIN_SCOPE)


def actor_of_request(scope: Scope | None) -> Actor | None:
    """The actor the gate verified for this request's scope, if any."""
    if scope is None:
        return None
    found = scope.get("state", {}).get(ACTOR_STATE_KEY)
    return found if isinstance(found, Actor) else None


def _sdk_user(principal: Principal, token: str) -> AuthenticatedUser:
    issuer = principal.claims.get("iss")
    claims: dict[str, Any] = {"iss": issuer} if isinstance(issuer, str) else {}
    return AuthenticatedUser(
        AccessToken(
            token=token,
            client_id=principal.client_id or principal.subject,
            scopes=sorted(principal.scopes),
            subject=principal.subject,
            claims=claims,
        )
    )


def mcp_gate(app: ASGIApp, authenticator: Authenticator, groups_claim: str) -> BearerGate:
    """`app` behind a `BearerGate` needing one `contexts:*` scope; admitted callers carry their
    `Actor` and the SDK's user in the scope."""

    def admit(scope: Scope, principal: Principal) -> None:
        scope.setdefault("state", {})[ACTOR_STATE_KEY] = actor_of(principal, groups_claim)
        scope["user"] = _sdk_user(principal, bearer_token_of(scope) or "")

    return BearerGate(app, authenticator, required=CONTEXT_SCOPES, any_of=True, on_principal=admit)
