"""What every rate-limit backend answers: allowed or not, and the numbers for the headers."""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class RateLimitDecision:
    """The outcome of one request against a token bucket."""

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
