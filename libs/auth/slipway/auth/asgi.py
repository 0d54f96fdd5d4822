"""`BearerGate`: the auth problems answered in front of a mounted ASGI app (e.g. MCP)."""

import inspect
from collections.abc import Awaitable, Callable, Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from slipway.auth.authenticator import Authenticator
from slipway.auth.principal import Principal
from slipway.web import ProblemError, problem_response

OnPrincipal = Callable[[Scope, Principal], Awaitable[None] | None]
"""Called with a verified caller before the app runs; may raise `ProblemError` to refuse."""

# RFC 6455 section 7.4.1: the endpoint refuses a message that violates its policy.
POLICY_VIOLATION = 1008


class BearerGate:
    """ASGI middleware: the app runs only for a caller `principal_or_problem` accepts.

    HTTP requests are refused with the problem+json `require_scopes` gives; a WebSocket is
    closed (1008) before it is accepted. Lifespan messages pass untouched. `challenge_scope`
    is what the `WWW-Authenticate` challenges ask for (default: `required`, or its first
    when `any_of`), e.g. every scope the app's features need.
    """

    def __init__(
        self,
        app: ASGIApp,
        authenticator: Authenticator,
        *,
        required: str | Sequence[str] = (),
        any_of: bool = False,
        on_principal: OnPrincipal | None = None,
        challenge_scope: Sequence[str] | None = None,
    ) -> None:
        self.app = app
        self.challenge_scope = challenge_scope
        self.authenticator = authenticator
        self.required = required
        self.any_of = any_of
        self.on_principal = on_principal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Authenticate an HTTP or WebSocket connection, then pass it on."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        try:
            await self._admit(scope)
        except ProblemError as problem:
            if scope["type"] == "websocket":
                await receive()  # websocket.connect: the close then becomes an HTTP 403
                await send({"type": "websocket.close", "code": POLICY_VIOLATION})
                return
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
        await self.app(scope, receive, send)

    async def _admit(self, scope: Scope) -> None:
        principal = await self.authenticator.principal_or_problem(
            scope, self.required, any_of=self.any_of, challenge_scope=self.challenge_scope
        )
        if self.on_principal is not None:
            outcome = self.on_principal(scope, principal)
            if inspect.isawaitable(outcome):
                await outcome
