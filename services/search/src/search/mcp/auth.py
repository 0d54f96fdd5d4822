"""The bearer-token gate in front of the MCP transport, and the caller's `Reader` behind it.

Every HTTP request to the endpoint goes through slipway.auth's `BearerGate`: the same
token-to-problem path as the REST API, needing `contexts:read` (or `contexts:admin`). The
verified caller's `Reader` is left in the request's scope state, where the tool reads it
(`reader_of_request`); the principal is also the SDK's `scope["user"]`.

The endpoint is an OAuth protected resource (MCP authorization, RFC 9728):
`protected_resource_settings` makes `<public base url>/mcp` its resource identifier, which
tokens may carry as `aud` (RFC 8707), and every 401/403 challenge names its metadata URL.
"""

from typing import Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.types import ASGIApp, Scope

from search.api.reader import reader_of
from search.domain.acl import ADMIN_SCOPE, READ_SCOPE
from search.domain.model import Reader
from search.settings import Settings
from slipway.auth import (
    Authenticator,
    AuthSettings,
    AuthSettingsError,
    BearerGate,
    Principal,
    bearer_token_of,
)
from slipway.config import Environment

READER_STATE_KEY = "search.mcp.reader"
MCP_PATH = "/mcp"
SCOPES = (READ_SCOPE, ADMIN_SCOPE)


def public_base_url(settings: Settings) -> str:
    """`public_base_url`, else http://<web.host>:<web.port> (development: a wildcard host is
    reached as localhost); no trailing slash. `AuthSettingsError` in production without one."""
    if settings.public_base_url is not None:
        return settings.public_base_url.rstrip("/")
    if Environment(settings.environment) is Environment.PRODUCTION:
        raise AuthSettingsError(
            "public_base_url (SEARCH_PUBLIC_BASE_URL) or auth.resource must be set in "
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
    `resource` defaults to `<public base url>/mcp`, `scopes_supported` to the read and admin
    scopes, `resource_name` to the service name; what `auth` sets itself wins."""
    auth = settings.auth
    if auth.resource is not None and auth.scopes_supported and auth.resource_name:
        return auth
    return AuthSettings.model_validate(
        {
            **auth.model_dump(),
            "resource": auth.resource or public_base_url(settings) + MCP_PATH,
            "scopes_supported": auth.scopes_supported or SCOPES,
            "resource_name": auth.resource_name or settings.service_name,
        }
    )


def reader_of_request(scope: Scope | None) -> Reader | None:
    """The reader the gate verified for this request's scope, if any."""
    if scope is None:
        return None
    found = scope.get("state", {}).get(READER_STATE_KEY)
    return found if isinstance(found, Reader) else None


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
    """`app` behind a `BearerGate` needing `contexts:read` (admin implies it); admitted
    callers carry their `Reader` and the SDK's user in the scope."""

    def admit(scope: Scope, principal: Principal) -> None:
        scope.setdefault("state", {})[READER_STATE_KEY] = reader_of(principal, groups_claim)
        scope["user"] = _sdk_user(principal, bearer_token_of(scope) or "")

    return BearerGate(
        app,
        authenticator,
        required=(READ_SCOPE,),
        on_principal=admit,
        challenge_scope=(READ_SCOPE,),
    )
