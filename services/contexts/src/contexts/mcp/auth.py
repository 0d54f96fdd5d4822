"""The bearer-token gate in front of the MCP transport, and the caller's `Actor` behind it.

Every HTTP request to the endpoint (POST messages, the GET notification stream, DELETE) must
carry `Authorization: Bearer <token>`, verified by slipway.auth exactly as the REST API does:
none gives 401 `missing-token`, a bad one 401 `invalid-token`, one holding none of the
`contexts:*` scopes 403 `insufficient-scope`, all `application/problem+json`. A verified
caller's `Actor` (via `contexts.api.actor.actor_of`) is left in the request's scope state,
where the MCP handlers read it (`actor_of_request`). The principal is also given to the SDK as
its `scope["user"]`, so a session can only be used with the credentials of the subject that
opened it (the SDK answers anyone else 404, as for an unknown session).
"""

from typing import Any, Protocol

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from contexts.api.actor import actor_of
from contexts.domain.model import Actor
from contexts.domain.policy import ADMIN_SCOPE, READ_SCOPE, WRITE_SCOPE
from slipway.auth import (
    INSUFFICIENT_SCOPE_TYPE,
    INVALID_TOKEN_TYPE,
    MISSING_TOKEN_TYPE,
    InvalidTokenError,
    Principal,
    bearer_token,
)
from slipway.web import ProblemError, problem_response

ACTOR_STATE_KEY = "contexts.mcp.actor"
CONTEXT_SCOPES = frozenset({READ_SCOPE, WRITE_SCOPE, ADMIN_SCOPE})


class TokenAuthenticator(Protocol):
    """What the gate needs of slipway.auth's `Authenticator`."""

    async def authenticate_request(self, scope: Scope, token: str) -> Principal:
        """The principal of a valid token (kept for the request); `InvalidTokenError` else."""
        ...


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


class BearerGate:
    """ASGI middleware: verify the bearer token, refuse with a problem, else pass the actor on."""

    def __init__(self, app: ASGIApp, authenticator: TokenAuthenticator, groups_claim: str) -> None:
        self.app = app
        self.authenticator = authenticator
        self.groups_claim = groups_claim

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Authenticate an HTTP request; anything else is passed on untouched."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            token = bearer_token(Headers(scope=scope).get("authorization"))
            if not token:
                raise ProblemError(
                    401,
                    "a bearer token is required",
                    title="Unauthorized",
                    type=MISSING_TOKEN_TYPE,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            try:
                principal = await self.authenticator.authenticate_request(scope, token)
            except InvalidTokenError as error:
                raise ProblemError(
                    401,
                    error.description,
                    title="Unauthorized",
                    type=INVALID_TOKEN_TYPE,
                    headers={
                        "WWW-Authenticate": 'Bearer error="invalid_token", '
                        f'error_description="{error.description}"'
                    },
                ) from None
            if principal.scopes.isdisjoint(CONTEXT_SCOPES):
                raise ProblemError(
                    403,
                    f"the token lacks the scope: {READ_SCOPE} (or {WRITE_SCOPE}, {ADMIN_SCOPE})",
                    title="Insufficient scope",
                    type=INSUFFICIENT_SCOPE_TYPE,
                    headers={
                        "WWW-Authenticate": 'Bearer error="insufficient_scope", '
                        f'scope="{READ_SCOPE}"'
                    },
                    extensions={"required_scopes": [READ_SCOPE], "missing_scopes": [READ_SCOPE]},
                )
            actor = actor_of(principal, self.groups_claim)
        except ProblemError as problem:
            response = problem_response(
                scope,
                problem.status,
                detail=problem.detail,
                title=problem.title,
                type=problem.type,
                headers=problem.headers,
                extensions=problem.extensions,
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})[ACTOR_STATE_KEY] = actor
        scope["user"] = _sdk_user(principal, token)
        await self.app(scope, receive, send)
