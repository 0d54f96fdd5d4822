"""The platform's request checks in one pure ASGI layer: limits, errors, rate limit, body limit.

Each exists as its own middleware too (`RequestLimitsMiddleware`, `UnhandledErrorMiddleware`,
`RateLimitMiddleware`, `BodyLimitMiddleware`); stacked, they cost four coroutine calls and
three `send` wrappers per request. `RequestGuardMiddleware` runs whichever of them it is given
with one call and at most one `send` wrapper, and behaves as those stacked in that order.
`slipway.web.stack` splits it in two around auth, which must run between the error guard and
the rate limiter (the limiter keys on the principal auth leaves in the scope).
"""

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from slipway.web.body_limit import PASS, REFUSE, BodyLimitMiddleware
from slipway.web.limits import RequestLimitsMiddleware
from slipway.web.problems import log_unhandled_error, unhandled_error_response
from slipway.web.ratelimit import KeyFunc, RateLimitBackend, RateLimitMiddleware
from slipway.web.ratelimit.middleware import (
    RATE_LIMIT_HEADER_NAMES,
    encoded_rate_limit_headers,
    principal_or_client_ip,
)
from slipway.web.security import with_default_headers

_NO_HEADERS: tuple[tuple[bytes, bytes], ...] = ()


class RequestGuardMiddleware:
    """Request limits (414/431), the unhandled-error guard (500), rate limit (429) and body
    limit (413), each on when configured, in that order, as one layer.

    Equivalent to `RequestLimitsMiddleware(UnhandledErrorMiddleware(RateLimitMiddleware(
    BodyLimitMiddleware(app))))` with the same options, minus the parts left out.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_url_bytes: int | None = None,
        max_header_bytes: int | None = None,
        unhandled_errors: bool = False,
        rate_limit_backend: RateLimitBackend | None = None,
        rate_limit_requests: int = 0,
        rate_limit_window_seconds: float = 1.0,
        rate_limit_key: KeyFunc = principal_or_client_ip,
        rate_limit_exempt_paths: Iterable[str] = (),
        max_body_bytes: int | None = None,
    ) -> None:
        self.app = app
        self._limits = (
            RequestLimitsMiddleware(
                app, max_url_bytes=max_url_bytes, max_header_bytes=max_header_bytes
            )
            if max_url_bytes is not None and max_header_bytes is not None
            else None
        )
        self._unhandled_errors = unhandled_errors
        self._rate_limit = (
            RateLimitMiddleware(
                app,
                backend=rate_limit_backend,
                requests=rate_limit_requests,
                window_seconds=rate_limit_window_seconds,
                key_func=rate_limit_key,
                exempt_paths=rate_limit_exempt_paths,
            )
            if rate_limit_backend is not None
            else None
        )
        self._body_limit = (
            BodyLimitMiddleware(app, max_body_bytes=max_body_bytes)
            if max_body_bytes is not None
            else None
        )

    @property
    def unhandled_errors(self) -> bool:
        """Whether this guard answers the app's unhandled errors with a 500 problem."""
        return self._unhandled_errors

    def limit_refusal(self, scope: Scope) -> tuple[int, str] | None:
        """(414 or 431, detail) when the HTTP request `scope` is over a limit, else None."""
        limits = self._limits
        return limits.refusal(scope) if limits is not None else None

    async def refuse_over_limit(
        self, scope: Scope, receive: Receive, send: Send, refusal: tuple[int, str]
    ) -> None:
        """Answer the `limit_refusal` problem and close the connection."""
        assert self._limits is not None  # noqa: S101 - a refusal comes from the limits
        await self._limits.refuse(scope, receive, send, refusal)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse the request with the first check's problem, or run the app."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self.limit_refusal(scope)
        if refusal is not None:
            await self.refuse_over_limit(scope, receive, send, refusal)
            return
        if not self._unhandled_errors:
            await self._checked(scope, receive, send)
            return
        started = False
        # Added to the app's response start, not to the 500 this layer answers itself.
        extra = _NO_HEADERS

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if extra:
                    message["headers"] = with_default_headers(
                        message.get("headers", ()), extra, RATE_LIMIT_HEADER_NAMES
                    )
            await send(message)

        try:
            admitted = await self.admitted(scope, receive, guarded_send)
            if admitted is None:
                return
            extra = admitted
            await self.forward(scope, receive, guarded_send)
        except Exception:
            log_unhandled_error(scope)
            if started:
                raise
            await unhandled_error_response(scope)(scope, receive, send)

    async def _checked(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Rate limit and body limit, without the error guard around them."""
        extra = await self.admitted(scope, receive, send)
        if extra is None:
            return
        if extra:
            plain_send = send

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = with_default_headers(
                        message.get("headers", ()), extra, RATE_LIMIT_HEADER_NAMES
                    )
                await plain_send(message)

            send = send_with_headers
        await self.forward(scope, receive, send)

    async def admitted(
        self, scope: Scope, receive: Receive, send: Send
    ) -> tuple[tuple[bytes, bytes], ...] | None:
        """The rate limiter's headers for an admitted request, or None once it is refused."""
        rate_limit = self._rate_limit
        if rate_limit is None or scope["path"] in rate_limit.exempt_paths:
            return _NO_HEADERS
        decide_now = rate_limit.decide_now  # the memory backend: no coroutine to await
        decision = decide_now(scope) if decide_now is not None else await rate_limit.decide(scope)
        if not decision.allowed:
            await rate_limit.refuse(scope, receive, send, decision)
            return None
        return encoded_rate_limit_headers(decision)

    async def forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app, behind the body limit when one is set."""
        body_limit = self._body_limit
        if body_limit is None or (framing := body_limit.framing(scope)) == PASS:
            await self.app(scope, receive, send)
        elif framing == REFUSE:
            await body_limit.refuse(scope, receive, send)
        else:
            await body_limit.counted(scope, receive, send)
