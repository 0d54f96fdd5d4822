"""`require_scopes`: the FastAPI dependency that hands a route its verified `Principal`."""

from typing import Annotated, Any

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from slipway.auth.authenticator import bound_authenticator
from slipway.auth.principal import Principal

# Documents the bearer scheme in OpenAPI; the token itself is read by the authenticator.
bearer_scheme = HTTPBearer(scheme_name="bearer", bearerFormat="JWT", auto_error=False)


async def _principal_with_all(
    security_scopes: SecurityScopes,
    request: Request,
    _documented: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
) -> Principal:
    authenticator = bound_authenticator(request.app)
    return await authenticator.principal_or_problem(request, security_scopes.scopes)


async def _principal_with_any(
    security_scopes: SecurityScopes,
    request: Request,
    _documented: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
) -> Principal:
    authenticator = bound_authenticator(request.app)
    return await authenticator.principal_or_problem(request, security_scopes.scopes, any_of=True)


def require_scopes(*scopes: str, any_of: bool = False) -> Any:
    """A dependency giving the route the caller's `Principal`, holding every scope (or one).

    Use as `principal: Annotated[Principal, require_scopes("contexts:read")]`; the scopes
    show in OpenAPI and are checked against the effective (implied included) scopes. The
    problems are `Authenticator.principal_or_problem`'s.
    """
    dependency = _principal_with_any if any_of else _principal_with_all
    return Security(dependency, scopes=list(scopes))
