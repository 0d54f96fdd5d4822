"""A fake monotonic clock and sleep, injected into clients so tests never wait."""

import asyncio


class FakeTime:
    """A monotonic clock the tests move, and a sleep that records delays and advances it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        """The fake monotonic time."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        """Record the delay and advance the clock instead of waiting."""
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)
