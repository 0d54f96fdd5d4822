"""The memory backend is asked without a coroutine (`decide_now`); any other backend is awaited.

Both ways spend the same token and give the same decision as `decide`.
"""

from slipway.web.ratelimit import MemoryRateLimitBackend, RateLimitDecision, RateLimitMiddleware
from slipway.web.ratelimit.memory_backend import gcra

SCOPE = {"type": "http", "path": "/x", "client": ("10.0.0.9", 1)}


class _Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


class _Remote:
    """A backend that answers over I/O (here: it just counts)."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    async def hit(self, key: str, *, limit: int, window_seconds: float) -> RateLimitDecision:
        self.keys.append(key)
        return RateLimitDecision(True, limit, limit - len(self.keys), window_seconds, 0.0)


async def _app(scope: object, receive: object, send: object) -> None:
    return None


async def test_the_memory_backend_decides_now_as_decide_does() -> None:
    now = RateLimitMiddleware(
        _app, backend=MemoryRateLimitBackend(clock=_Clock()), requests=2, window_seconds=10
    )
    awaited = RateLimitMiddleware(
        _app, backend=MemoryRateLimitBackend(clock=_Clock()), requests=2, window_seconds=10
    )
    assert now.decide_now is not None
    fast = [now.decide_now(SCOPE) for _ in range(3)]
    assert fast == [await awaited.decide(SCOPE) for _ in range(3)]
    assert [d.allowed for d in fast] == [True, True, False]


async def test_another_backend_is_only_awaited() -> None:
    remote = _Remote()
    middleware = RateLimitMiddleware(_app, backend=remote, requests=5, window_seconds=1)
    assert middleware.decide_now is None
    assert (await middleware.decide(SCOPE)).remaining == 4
    assert remote.keys == ["ip:10.0.0.9"]


def test_gcra_fields_are_in_their_places() -> None:
    allowed, tat = gcra(None, 0, limit=4, period=4_000_000)
    assert allowed == RateLimitDecision(
        allowed=True, limit=4, remaining=3, reset_seconds=1.0, retry_after_seconds=0.0
    )
    assert tat == 1_000_000
    for _ in range(3):
        _, tat = gcra(tat, 0, limit=4, period=4_000_000)
    refused, none = gcra(tat, 0, limit=4, period=4_000_000)
    assert none is None
    assert refused == RateLimitDecision(
        allowed=False, limit=4, remaining=0, reset_seconds=4.0, retry_after_seconds=1.0
    )
