"""Writes that lost a version race, tried again on the latest version: how often, how long.

Every change appends version N + 1 after reading version N; of concurrent writers only one
can take N + 1, the others get `Conflict`. A write without `If-Match` is not conditional on
the version it read, so losing that race is no answer for the caller: the use-case runs
again, from a fresh read in a fresh unit of work, after the `Backoff` port's pause (the
service composes a capped exponential one with full jitter, `contexts.adapters.backoff`, so
losers do not collide again in lockstep). A conditional write is tried again too: its
precondition, checked against the new version, then answers 412 instead of 409. Only after
`attempts` lost races does `Conflict` reach the caller (409).
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from contexts.domain.errors import Conflict
from contexts.domain.ports import Backoff

T = TypeVar("T")

DEFAULT_WRITE_ATTEMPTS = 10


class NoBackoff:
    """Retry at once (the default without a composed `Backoff`, and in tests)."""

    async def pause(self, retry: int) -> None:
        """Return immediately."""


@dataclass(frozen=True, slots=True)
class WriteRetry:
    """How many times a write runs before a lost version race becomes `Conflict`.

    `attempts`: runs in all (1: never again); `backoff`: the pause before each further run.
    """

    attempts: int = DEFAULT_WRITE_ATTEMPTS
    backoff: Backoff = field(default_factory=NoBackoff)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")


async def retrying_conflicts(attempt: Callable[[], Awaitable[T]], policy: WriteRetry) -> T:
    """`attempt()`, run again after each `Conflict`, up to `policy.attempts` runs in all.

    Each run must be a whole unit of work of its own (read, check, write, commit), so a lost
    run leaves nothing behind and the next one starts from what is committed now.
    """
    for retry in range(1, policy.attempts):
        try:
            return await attempt()
        except Conflict:
            await policy.backoff.pause(retry)
    return await attempt()
