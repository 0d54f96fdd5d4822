"""In-process token bucket (GCRA): the default when no Redis is configured."""

import time
from collections.abc import Callable

from slipway.web.ratelimit.base import RateLimitDecision

_MICROS = 1_000_000


# `RateLimitDecision(...)` runs the NamedTuple's generated Python `__new__`, which only calls
# `tuple.__new__(cls, fields)`: calling that directly builds the same object, one frame less.
_new_tuple = tuple.__new__


def gcra(
    tat: int | None, now: int, *, limit: int, period: int
) -> tuple[RateLimitDecision, int | None]:
    """One GCRA step in microseconds: the decision and the new theoretical arrival time."""
    interval = period / limit
    # `max(tat if tat is not None else now, now)` without the builtin call: max keeps the
    # first of equal values, so tat when tat >= now, else now.
    base = tat if tat is not None and tat >= now else now
    new_tat = base + interval
    allow_at = new_tat - period
    # Fields in order (allowed, limit, remaining, reset, retry after).
    if now < allow_at:
        refused = _new_tuple(
            RateLimitDecision,
            (False, limit, 0, (base - now) / _MICROS, (allow_at - now) / _MICROS),
        )
        return refused, None
    remaining = int((period - (new_tat - now)) / interval + 1e-6)
    allowed = _new_tuple(
        RateLimitDecision, (True, limit, remaining, (new_tat - now) / _MICROS, 0.0)
    )
    return allowed, round(new_tat)


class MemoryRateLimitBackend:
    """Token buckets in a dict; one process only (each instance counts on its own)."""

    name = "ratelimit-memory"

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tats: dict[str, int] = {}

    async def start(self) -> None:
        """Nothing to open."""

    async def stop(self) -> None:
        """Forget all buckets."""
        self._tats.clear()

    def _sweep(self, now: int) -> None:
        expired = [key for key, tat in self._tats.items() if tat <= now]
        for key in expired:
            del self._tats[key]

    async def hit(self, key: str, *, limit: int, window_seconds: float) -> RateLimitDecision:
        """Take one token for `key`."""
        return self.take(key, limit=limit, window_seconds=window_seconds)

    def take(self, key: str, *, limit: int, window_seconds: float) -> RateLimitDecision:
        """`hit` without the await: the middleware calls it directly for this backend."""
        now = int(self._clock() * _MICROS)
        if len(self._tats) > 10_000:
            self._sweep(now)
        decision, new_tat = gcra(
            self._tats.get(key), now, limit=limit, period=int(window_seconds * _MICROS)
        )
        if new_tat is not None:
            self._tats[key] = new_tat
        return decision
