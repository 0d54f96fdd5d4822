"""Who is calling: a verified bearer token (slipway.auth) as the domain's `Actor`.

slipway.auth answers a missing or invalid token with 401. The scope check is made here rather
than by `require_scopes(scope)`, because `contexts:admin` stands in for every scope (as the
domain's policy has it) and `require_scopes` demands each listed scope literally. The scope is
still declared on the bearer scheme, so OpenAPI shows what each operation needs.
"""

from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import ValidationError

from contexts.domain.model import Actor
from contexts.domain.policy import ADMIN_SCOPE, READ_SCOPE
from slipway.auth import (
    INSUFFICIENT_SCOPE_TYPE,
    INVALID_TOKEN_TYPE,
    MISSING_TOKEN_TYPE,
    Authenticator,
    InvalidTokenError,
    Principal,
    bearer_scheme,
    bearer_token,
    require_scopes,
)
from slipway.web import ProblemError


def groups_of(principal: Principal, claim: str) -> frozenset[str]:
    """The groups a token lists in `claim`: a list of strings or a space-separated string."""
    value = principal.claims.get(claim)
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list | tuple):
        return frozenset(item for item in value if isinstance(item, str) and item)
    return frozenset()


def actor_of(principal: Principal, groups_claim: str) -> Actor:
    """The domain actor of a verified principal."""
    try:
        return Actor(
            subject=principal.subject,
            groups=groups_of(principal, groups_claim),
            scopes=principal.scopes,
        )
    except ValidationError as error:  # e.g. a 300-character subject
        raise ProblemError(401, "the token's subject is not acceptable") from error


def _insufficient_scope(scope: str) -> ProblemError:
    return ProblemError(
        403,
        f"the token lacks the scope: {scope} (or {ADMIN_SCOPE})",
        title="Insufficient scope",
        type=INSUFFICIENT_SCOPE_TYPE,
        headers={
            "WWW-Authenticate": 'Bearer error="insufficient_scope", '
            'error_description="the token lacks a required scope", '
            f'scope="{scope}"'
        },
        extensions={"required_scopes": [scope], "missing_scopes": [scope]},
    )


ActorDependency = Callable[..., Coroutine[Any, Any, Actor]]


def actor_requiring(scope: str, groups_claim: str) -> ActorDependency:
    """A dependency giving the route the calling `Actor`, who must hold `scope` or admin."""

    async def actor(
        principal: Annotated[Principal, require_scopes()],
        _documented: Annotated[
            HTTPAuthorizationCredentials | None, Security(bearer_scheme, scopes=[scope])
        ],
    ) -> Actor:
        if scope not in principal.scopes and ADMIN_SCOPE not in principal.scopes:
            raise _insufficient_scope(scope)
        return actor_of(principal, groups_claim)

    return actor


def _unauthorized(detail: str, type_: str, challenge: str) -> ProblemError:
    return ProblemError(
        401, detail, title="Unauthorized", type=type_, headers={"WWW-Authenticate": challenge}
    )


def namespace_reader(authenticator: Authenticator) -> Callable[[Request, str], Awaitable[None]]:
    """An `authorize(request, namespace)` hook: a valid token with `contexts:read` (or admin).

    For routes that do not take `actor_requiring` (the event stream): the same 401 and 403
    problems, checked on the request.
    """

    async def authorize(request: Request, namespace: str) -> None:
        token = bearer_token(request.headers.get("authorization"))
        if not token:
            raise _unauthorized("a bearer token is required", MISSING_TOKEN_TYPE, "Bearer")
        try:
            principal = await authenticator.authenticate_request(request.scope, token)
        except InvalidTokenError as error:
            raise _unauthorized(
                error.description,
                INVALID_TOKEN_TYPE,
                f'Bearer error="invalid_token", error_description="{error.description}"',
            ) from None
        if READ_SCOPE not in principal.scopes and ADMIN_SCOPE not in principal.scopes:
            raise _insufficient_scope(READ_SCOPE)

    return authorize
