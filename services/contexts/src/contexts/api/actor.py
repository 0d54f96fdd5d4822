"""Who is calling: a verified bearer token (slipway.auth) as the domain's `Actor`.

The token-to-problem mapping is slipway.auth's alone (`require_scopes`,
`Authenticator.principal_or_problem`), with its scope implication: `contexts:admin` implies
`contexts:read` and `contexts:write`, as the domain's policy has it.
"""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import ValidationError

from contexts.domain.model import Actor
from slipway.auth import Principal, bearer_scheme, bound_authenticator
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


ActorDependency = Callable[..., Coroutine[Any, Any, Actor]]


def actor_requiring(scope: str, groups_claim: str) -> ActorDependency:
    """A dependency giving the route the calling `Actor`, who must hold `scope` (or imply it).

    What `require_scopes(scope)` does, in one dependency rather than two: FastAPI solves each
    dependency of every request anew, and this one runs on every /v1 request. The bearer
    scheme with `scope` documents the requirement in OpenAPI as `require_scopes` does; the
    principal and its problems are the authenticator's (`principal_or_problem`).
    """
    required = (scope,)

    async def actor(
        request: Request,
        _documented: Annotated[
            HTTPAuthorizationCredentials | None, Security(bearer_scheme, scopes=[scope])
        ],
    ) -> Actor:
        principal = await bound_authenticator(request.app).principal_or_problem(request, required)
        return actor_of(principal, groups_claim)

    return actor
