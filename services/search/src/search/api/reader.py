"""Who is searching: a verified bearer token (slipway.auth) as the domain's `Reader`.

The token-to-problem mapping is slipway.auth's alone (`principal_or_problem`): no token or a
bad one is a 401 problem, a token without `contexts:read` (or `contexts:admin`, which implies
it) a 403 problem. Groups come from the `groups` claim (configurable), as in contexts.
"""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials

from search.domain.acl import READ_SCOPE
from search.domain.model import Reader
from slipway.auth import Principal, bearer_scheme, bound_authenticator


def groups_of(principal: Principal, claim: str) -> frozenset[str]:
    """The groups a token lists in `claim`: a list of strings or a space-separated string."""
    value = principal.claims.get(claim)
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list | tuple):
        return frozenset(item for item in value if isinstance(item, str) and item)
    return frozenset()


def reader_of(principal: Principal, groups_claim: str) -> Reader:
    """The domain reader of a verified principal (its effective scopes)."""
    return Reader(
        subject=principal.subject,
        groups=groups_of(principal, groups_claim),
        scopes=frozenset(principal.scopes),
    )


ReaderDependency = Callable[..., Coroutine[Any, Any, Reader]]


def reader_requiring_read(groups_claim: str) -> ReaderDependency:
    """A dependency giving the route the calling `Reader`, who must hold `contexts:read`.

    The bearer scheme with the scope documents the requirement in OpenAPI, as
    `require_scopes` does; the principal and its problems are the authenticator's."""
    required = (READ_SCOPE,)

    async def reader(
        request: Request,
        _documented: Annotated[
            HTTPAuthorizationCredentials | None, Security(bearer_scheme, scopes=[READ_SCOPE])
        ],
    ) -> Reader:
        principal = await bound_authenticator(request.app).principal_or_problem(request, required)
        return reader_of(principal, groups_claim)

    return reader
