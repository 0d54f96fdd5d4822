"""What every rate-limit backend answers: allowed or not, and the numbers for the headers."""

from typing import NamedTuple, Protocol


class RateLimitDecision(NamedTuple):
    """The outcome of one request against a token bucket.

    Immutable, like the frozen dataclass it was; a NamedTuple because one is made per
    request and building a frozen dataclass (one `object.__setattr__` per field) cost ~1 us.
    """

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: float  # until the bucket is full again
    retry_after_seconds: float  # until one more request is allowed (0 when allowed)


class RateLimitBackend(Protocol):
    """Counts requests per key; `hit` spends one token if there is one."""

    async def hit(self, key: str, *, limit: int, window_seconds: float) -> RateLimitDecision:
        """Take one token for `key` from a bucket of `limit` tokens refilled over the window."""
        ...
