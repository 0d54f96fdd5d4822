"""`require_scopes`: the FastAPI dependency that hands a route its verified `Principal`."""

from typing import Annotated, Any

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from slipway.auth.authenticator import APP_STATE_KEY, Authenticator, bearer_token
from slipway.auth.principal import Principal
from slipway.auth.verification import InvalidTokenError
from slipway.web import ProblemError

MISSING_TOKEN_TYPE = "urn:slipway:problem:missing-token"  # noqa: S105 - a URN, not a secret
INVALID_TOKEN_TYPE = "urn:slipway:problem:invalid-token"  # noqa: S105 - a URN, not a secret
INSUFFICIENT_SCOPE_TYPE = "urn:slipway:problem:insufficient-scope"

# Documents the bearer scheme in OpenAPI; the token itself is read by `_principal`.
bearer_scheme = HTTPBearer(scheme_name="bearer", bearerFormat="JWT", auto_error=False)


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _challenge(**params: str) -> dict[str, str]:
    """A `WWW-Authenticate: Bearer ...` header (RFC 6750 section 3)."""
    rendered = ", ".join(f"{name}={_quoted(value)}" for name, value in params.items())
    return {"WWW-Authenticate": f"Bearer {rendered}" if rendered else "Bearer"}


def _authenticator(request: Request) -> Authenticator:
    found = getattr(request.app.state, APP_STATE_KEY, None)
    if not isinstance(found, Authenticator):
        raise RuntimeError("no Authenticator installed on this app: call authenticator.install")
    return found


async def _principal(
    security_scopes: SecurityScopes,
    request: Request,
    _documented: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
) -> Principal:
    authenticator = _authenticator(request)
    token = bearer_token(request.headers.get("authorization"))
    if not token:
        raise ProblemError(
            401,
            "a bearer token is required",
            title="Unauthorized",
            type=MISSING_TOKEN_TYPE,
            headers=_challenge(),
        )
    try:
        principal = await authenticator.authenticate_request(request.scope, token)
    except InvalidTokenError as exc:
        raise ProblemError(
            401,
            exc.description,
            title="Invalid token",
            type=INVALID_TOKEN_TYPE,
            headers=_challenge(error="invalid_token", error_description=exc.description),
        ) from None
    missing = sorted(set(security_scopes.scopes) - principal.scopes)
    if missing:
        needed = " ".join(security_scopes.scopes)
        raise ProblemError(
            403,
            f"the token lacks the scope(s): {' '.join(missing)}",
            title="Insufficient scope",
            type=INSUFFICIENT_SCOPE_TYPE,
            headers=_challenge(
                error="insufficient_scope",
                error_description="the token lacks a required scope",
                scope=needed,
            ),
            extensions={"required_scopes": list(security_scopes.scopes), "missing_scopes": missing},
        )
    return principal


def require_scopes(*scopes: str) -> Any:
    """A dependency giving the route the caller's `Principal`, which must hold every scope.

    Use as `principal: Annotated[Principal, require_scopes("contexts:read")]`; the scopes
    show in OpenAPI. No token: 401; an invalid one: 401 `invalid_token`; a missing scope:
    403 `insufficient_scope` naming the scopes needed.
    """
    return Security(_principal, scopes=list(scopes))
