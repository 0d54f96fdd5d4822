"""The bearer-token gate in front of a service's MCP transport, and its protected resource.

Every HTTP request to the endpoint (POST messages, the GET notification stream, DELETE) goes
through slipway.auth's `BearerGate`: the same token-to-problem path as the service's REST API.
`mcp_gate` leaves the service's own view of a verified caller (its `caller_of(principal)`, e.g.
an actor or a reader) in the request's scope state under `state_key`, where the MCP handlers
read it back (`caller_of_request`). The principal is also given to the SDK as its
`scope["user"]`, so a session can only be used with the credentials of the subject that opened
it (the SDK answers anyone else 404, as for an unknown session).

The endpoint is an OAuth protected resource (MCP authorization, RFC 9728):
`protected_resource_settings` makes `<public base url>/mcp` its resource identifier, which
tokens may carry as `aud` (RFC 8707); every 401/403 challenge names its metadata URL.
"""

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from pydantic_settings import BaseSettings
from starlette.types import ASGIApp, Scope

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from slipway.auth import (
    Authenticator,
    AuthSettings,
    AuthSettingsError,
    BearerGate,
    Principal,
    bearer_token_of,
)
from slipway.config import Environment, env_var_name
from slipway.web import WebSettings

MCP_PATH = "/mcp"

T = TypeVar("T")


class McpServiceSettings(Protocol):
    """What the protected-resource defaults read from a service's settings."""

    @property
    def service_name(self) -> str: ...
    @property
    def environment(self) -> Environment: ...
    @property
    def web(self) -> WebSettings: ...
    @property
    def public_base_url(self) -> str | None: ...
    @property
    def auth(self) -> AuthSettings: ...


def _variable(settings: McpServiceSettings, field: str) -> str:
    if isinstance(settings, BaseSettings):
        return env_var_name(type(settings), field)
    return field.upper()


def public_base_url(settings: McpServiceSettings) -> str:
    """`public_base_url`, else http://<web.host>:<web.port> (development: a wildcard host is
    reached as localhost); no trailing slash. `AuthSettingsError` in production without one."""
    if settings.public_base_url is not None:
        return settings.public_base_url.rstrip("/")
    if Environment(settings.environment) is Environment.PRODUCTION:
        raise AuthSettingsError(
            f"public_base_url ({_variable(settings, 'public_base_url')}) or auth.resource must "
            "be set in production: the MCP endpoint's https resource identifier is derived "
            "from it"
        )
    host = settings.web.host
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - naming the wildcard, not binding to it
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.web.port}"


def protected_resource_settings(
    settings: McpServiceSettings, scopes: Sequence[str], *, path: str = MCP_PATH
) -> AuthSettings:
    """`settings.auth` as the protected resource the MCP endpoint is (RFC 9728, RFC 8707):
    `resource` defaults to `<public base url><path>`, `scopes_supported` to `scopes`,
    `resource_name` to the service name; what `auth` sets itself wins."""
    auth = settings.auth
    if auth.resource is not None and auth.scopes_supported and auth.resource_name:
        return auth
    return AuthSettings.model_validate(
        {
            **auth.model_dump(),
            "resource": auth.resource or public_base_url(settings) + path,
            "scopes_supported": auth.scopes_supported or tuple(scopes),
            "resource_name": auth.resource_name or settings.service_name,
        }
    )


def sdk_user(principal: Principal, token: str) -> AuthenticatedUser:
    """The principal as the MCP SDK's `scope["user"]` (it binds a session to its subject)."""
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


def mcp_gate(
    app: ASGIApp,
    authenticator: Authenticator,
    *,
    caller_of: Callable[[Principal], object],
    state_key: str,
    required: Sequence[str],
    any_of: bool = False,
    challenge_scope: Sequence[str] | None = None,
) -> BearerGate:
    """`app` behind a `BearerGate` needing `required` (one of them with `any_of`); admitted
    callers carry `caller_of(principal)` in the scope's state at `state_key`, and the SDK's
    user in `scope["user"]`."""

    def admit(scope: Scope, principal: Principal) -> None:
        scope.setdefault("state", {})[state_key] = caller_of(principal)
        scope["user"] = sdk_user(principal, bearer_token_of(scope) or "")

    return BearerGate(
        app,
        authenticator,
        required=tuple(required),
        any_of=any_of,
        on_principal=admit,
        challenge_scope=challenge_scope,
    )


def caller_of_request(scope: Scope | None, state_key: str, kind: type[T]) -> T | None:
    """The `kind` caller the gate left in this request's scope at `state_key`, if any."""
    if scope is None:
        return None
    found = scope.get("state", {}).get(state_key)
    return found if isinstance(found, kind) else None
