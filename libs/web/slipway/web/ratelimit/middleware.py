"""Rate limiting as pure ASGI middleware: 429 problems and RateLimit-* headers."""

import math
from collections.abc import Callable, Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from slipway.web.problems import problem_response
from slipway.web.ratelimit.base import RateLimitBackend, RateLimitDecision
from slipway.web.ratelimit.memory_backend import MemoryRateLimitBackend
from slipway.web.security import with_default_headers

KeyFunc = Callable[[Scope], str]

RATE_LIMITED_TYPE = "urn:slipway:problem:rate-limited"


_NO_STATE: dict[str, object] = {}  # read only: `scope.get("state", {})` without a new dict
_CACHE_SIZE = 4096
_IP_KEYS: dict[str, str] = {}
"""`ip:<host>` per client host, so a connection's requests share one key string (hash
computed once) instead of formatting it per request; at most `_CACHE_SIZE` hosts."""


def principal_or_client_ip(scope: Scope) -> str:
    """`principal:<id>` when an outer middleware set `scope["state"]["principal"]`, else IP."""
    principal = scope.get("state", _NO_STATE).get("principal")
    if principal is not None:
        subject = getattr(principal, "subject", principal)
        return f"principal:{subject}"
    client = scope.get("client")
    if not client:
        return "ip:unknown"
    host = client[0]
    if type(host) is not str:  # only str hosts (what servers pass) format the same every time
        return f"ip:{host}"
    key = _IP_KEYS.get(host)
    if key is None:
        key = f"ip:{host}"
        if len(_IP_KEYS) < _CACHE_SIZE:
            _IP_KEYS[host] = key
    return key


def rate_limit_headers(decision: RateLimitDecision) -> dict[str, str]:
    """RateLimit-Limit/-Remaining/-Reset, plus Retry-After when refused (whole seconds)."""
    headers = {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(math.ceil(decision.reset_seconds)),
    }
    if not decision.allowed:
        headers["Retry-After"] = str(max(1, math.ceil(decision.retry_after_seconds)))
    return headers


RATE_LIMIT_HEADER_NAMES = frozenset(
    (b"ratelimit-limit", b"ratelimit-remaining", b"ratelimit-reset")
)
"""The names `encoded_rate_limit_headers` gives its headers."""


_INT_BYTES: dict[int, bytes] = {}
"""`str(n).encode("latin-1")` per int the headers have sent, at most `_CACHE_SIZE` of them:
the limit never changes, and below it remaining and reset repeat from request to request."""


def _int_bytes(number: int) -> bytes:
    encoded = _INT_BYTES.get(number)
    if encoded is None:
        encoded = str(number).encode("latin-1")
        if len(_INT_BYTES) < _CACHE_SIZE:
            _INT_BYTES[number] = encoded
    return encoded


def encoded_rate_limit_headers(decision: RateLimitDecision) -> tuple[tuple[bytes, bytes], ...]:
    """The three RateLimit headers of an allowed request, lowercase and encoded."""
    cached = _INT_BYTES.get
    # Cache hits skip `_int_bytes`'s call; a miss (None) formats through it.
    limit = cached(decision.limit) or _int_bytes(decision.limit)
    remaining = cached(decision.remaining) or _int_bytes(decision.remaining)
    reset = math.ceil(decision.reset_seconds)
    return (
        (b"ratelimit-limit", limit),
        (b"ratelimit-remaining", remaining),
        (b"ratelimit-reset", cached(reset) or _int_bytes(reset)),
    )


class RateLimitMiddleware:
    """Spends one token per request from the caller's bucket; 429 when it is empty."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        backend: RateLimitBackend,
        requests: int,
        window_seconds: float,
        key_func: KeyFunc = principal_or_client_ip,
        exempt_paths: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.backend = backend
        self.requests = requests
        self.window_seconds = window_seconds
        self.key_func = key_func
        self.exempt_paths = frozenset(exempt_paths)
        # The in-memory backend answers without I/O: called directly, one await less.
        self._take = (
            backend.take
            if isinstance(backend, MemoryRateLimitBackend)
            and type(backend).hit is MemoryRateLimitBackend.hit
            else None
        )
        self.decide_now = self._decide_now if self._take is not None else None
        """`decide` without a coroutine, when the backend answers without I/O; else None."""

    def _decide_now(self, scope: Scope) -> RateLimitDecision:
        assert self._take is not None  # noqa: S101 - only bound with the memory backend
        key = self.key_func(scope)
        return self._take(key, limit=self.requests, window_seconds=self.window_seconds)

    async def decide(self, scope: Scope) -> RateLimitDecision:
        """Spend one token of the caller's bucket for the HTTP request `scope`."""
        if self.decide_now is not None:
            return self.decide_now(scope)
        key = self.key_func(scope)
        return await self.backend.hit(key, limit=self.requests, window_seconds=self.window_seconds)

    async def refuse(
        self, scope: Scope, receive: Receive, send: Send, decision: RateLimitDecision
    ) -> None:
        """Answer the 429 problem for a refused `decision`."""
        response = problem_response(
            scope,
            429,
            detail=f"rate limit of {self.requests} requests per {self.window_seconds:g}s exceeded",
            type=RATE_LIMITED_TYPE,
            headers=rate_limit_headers(decision),
        )
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse with 429 or pass the request on with the RateLimit headers added."""
        if scope["type"] != "http" or scope.get("path") in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        decision = await self.decide(scope)
        if not decision.allowed:
            await self.refuse(scope, receive, send, decision)
            return
        encoded = encoded_rate_limit_headers(decision)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = with_default_headers(
                    message.get("headers", ()), encoded, RATE_LIMIT_HEADER_NAMES
                )
            await send(message)

        await self.app(scope, receive, send_with_headers)
