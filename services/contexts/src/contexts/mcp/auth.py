"""The bearer-token gate in front of the MCP transport, and the caller's `Actor` behind it.

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

from typing import Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.types import ASGIApp, Scope

from contexts.api.actor import actor_of
from contexts.domain.model import Actor
from contexts.domain.policy import ADMIN_SCOPE, READ_SCOPE, WRITE_SCOPE
from contexts.settings import Settings
from slipway.auth import (
    Authenticator,
    AuthSettings,
    AuthSettingsError,
    BearerGate,
    Principal,
    bearer_token_of,
)
from slipway.config import Environment

ACTOR_STATE_KEY = "contexts.mcp.actor"
CONTEXT_SCOPES = (READ_SCOPE, WRITE_SCOPE, ADMIN_SCOPE)
# What a 401/403 from the endpoint tells a client to ask for: every MCP feature (resources
# and the write tools) works with these; admin is not asked for, though it would do.
CHALLENGE_SCOPES = (READ_SCOPE, WRITE_SCOPE)
MCP_PATH = "/mcp"


def public_base_url(settings: Settings) -> str:
    """`public_base_url`, else http://<web.host>:<web.port> (development: a wildcard host is
    reached as localhost); no trailing slash. `AuthSettingsError` in production without one."""
    if settings.public_base_url is not None:
        return settings.public_base_url.rstrip("/")
    if Environment(settings.environment) is Environment.PRODUCTION:
        raise AuthSettingsError(
            "public_base_url (CONTEXTS_PUBLIC_BASE_URL) or auth.resource must be set in "
            "production: the MCP endpoint's https resource identifier is derived from it"
        )
    host = settings.web.host
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - naming the wildcard, not binding to it
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.web.port}"


def protected_resource_settings(settings: Settings) -> AuthSettings:
    """`settings.auth` as the protected resource the MCP endpoint is (RFC 9728, RFC 8707):
    `resource` defaults to `<public base url>/mcp`, `scopes_supported` to the `contexts:*`
    scopes, `resource_name` to the service name; what `auth` sets itself wins."""
    auth = settings.auth
    if auth.resource is not None and auth.scopes_supported and auth.resource_name:
        return auth
    return AuthSettings.model_validate(
        {
            **auth.model_dump(),
            "resource": auth.resource or public_base_url(settings) + MCP_PATH,
            "scopes_supported": auth.scopes_supported or CONTEXT_SCOPES,
            "resource_name": auth.resource_name or settings.service_name,
        }
    )


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

    return BearerGate(
        app,
        authenticator,
        required=CONTEXT_SCOPES,
        any_of=True,
        on_principal=admit,
        challenge_scope=CHALLENGE_SCOPES,
    )
