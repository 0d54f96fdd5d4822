"""An event count over the last N seconds, kept in time slices so old events fall out."""

from collections import deque
from collections.abc import Callable


class RollingCounter:
    """Counts events over a sliding `window` of seconds, in `slices` steps of resolution."""

    def __init__(self, window: float, clock: Callable[[], float], *, slices: int = 10) -> None:
        self._slice = window / slices
        self._slices = slices
        self._clock = clock
        self._counts: deque[list[int]] = deque()  # [slice index, count], oldest first

    def _now_index(self) -> int:
        return int(self._clock() // self._slice)

    def _expire(self, now_index: int) -> None:
        oldest_kept = now_index - self._slices + 1
        while self._counts and self._counts[0][0] < oldest_kept:
            self._counts.popleft()

    def add(self, amount: int = 1) -> None:
        """Count `amount` events now."""
        index = self._now_index()
        self._expire(index)
        if self._counts and self._counts[-1][0] == index:
            self._counts[-1][1] += amount
        else:
            self._counts.append([index, amount])

    def total(self) -> int:
        """Events counted within the window."""
        self._expire(self._now_index())
        return sum(count for _, count in self._counts)

    def clear(self) -> None:
        """Forget every event."""
        self._counts.clear()
