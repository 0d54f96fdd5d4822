"""`JitteredBackoff`: the domain's Backoff port as capped exponential backoff with full jitter.

Before retry n of a write that lost a version race it sleeps a random time in
[0, min(cap, base * 2 ** (n - 1))) seconds: losers of one race spread out instead of
colliding again in lockstep (see `contexts.domain.retry`).
"""

import asyncio
import random
from collections.abc import Awaitable, Callable

DEFAULT_BASE_SECONDS = 0.005
DEFAULT_CAP_SECONDS = 0.25


class JitteredBackoff:
    """Sleeps a random share of a capped, doubling bound before each retry."""

    def __init__(
        self,
        base: float = DEFAULT_BASE_SECONDS,
        cap: float = DEFAULT_CAP_SECONDS,
        *,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if base < 0 or cap < 0:
            raise ValueError("backoff must not be negative")
        self._base = base
        self._cap = cap
        self._rng = random.Random() if rng is None else rng  # noqa: S311 - jitter, not secrets
        self._sleep = sleep

    def bound(self, retry: int) -> float:
        """The longest pause before retry number `retry` (1-based)."""
        return min(self._cap, self._base * 2.0 ** (retry - 1))

    async def pause(self, retry: int) -> None:
        """Sleep a random time below `bound(retry)`."""
        await self._sleep(self.bound(retry) * self._rng.random())
