"""`InMemoryEventStream`: the embedded default `EventStream`, one list per namespace.

Entry ids follow Redis Streams (`<milliseconds>-<sequence>`, strictly increasing per
namespace), so a client's `Last-Event-ID` means the same thing on either backend. The
history lives in this process only: it is gone on restart, and other instances do not see it.
"""

import asyncio
import bisect
import time
from collections.abc import Callable, Sequence

from contexts.domain.events import ContextChanged
from contexts.domain.relay import StreamEntry

DEFAULT_MAXLEN = 10_000


def parse_entry_id(entry_id: str) -> tuple[int, int]:
    """`"<ms>-<seq>"` as a comparable pair; ValueError if it is not one."""
    millis, sep, seq = entry_id.partition("-")
    if not (sep and millis.isdigit() and seq.isdigit()):
        raise ValueError(f"not a stream entry id: {entry_id!r}")
    return int(millis), int(seq)


class _Namespace:
    def __init__(self) -> None:
        self.keys: list[tuple[int, int]] = []
        self.entries: list[StreamEntry] = []


class InMemoryEventStream:
    """An `EventStream` in this process's memory; readers wait on an `asyncio.Condition`.

    Each namespace keeps about its last `maxlen` entries (trimmed in chunks, like Redis'
    approximate `MAXLEN ~`); `maxlen=None` keeps everything. Use one instance per event loop.
    """

    def __init__(
        self, *, maxlen: int | None = DEFAULT_MAXLEN, clock: Callable[[], float] = time.time
    ) -> None:
        if maxlen is not None and maxlen < 1:
            raise ValueError("maxlen must be positive")
        self._maxlen = maxlen
        self._clock = clock
        self._namespaces: dict[str, _Namespace] = {}
        self._changed = asyncio.Condition()

    def _next_key(self, namespace: _Namespace) -> tuple[int, int]:
        millis = int(self._clock() * 1000)
        if namespace.keys:
            last_millis, last_seq = namespace.keys[-1]
            if millis <= last_millis:
                return last_millis, last_seq + 1
        return (millis, 0) if millis > 0 else (0, 1)  # 0-0 is never an id, as in Redis

    def _trim(self, namespace: _Namespace) -> None:
        if self._maxlen is None:
            return
        excess = len(namespace.entries) - self._maxlen
        # Trim in chunks of a tenth, so appends stay amortised O(1).
        if excess > max(1, self._maxlen // 10):
            del namespace.keys[:excess]
            del namespace.entries[:excess]

    async def publish(self, events: Sequence[ContextChanged]) -> None:
        """Append the events in order, each to its namespace, and wake every reader."""
        if not events:
            return
        async with self._changed:
            for event in events:
                namespace = self._namespaces.setdefault(event.namespace, _Namespace())
                key = self._next_key(namespace)
                namespace.keys.append(key)
                namespace.entries.append(StreamEntry(entry_id=f"{key[0]}-{key[1]}", event=event))
                self._trim(namespace)
            self._changed.notify_all()

    def _after(self, namespace: str, after: tuple[int, int], limit: int) -> list[StreamEntry]:
        found = self._namespaces.get(namespace)
        if found is None:
            return []
        start = bisect.bisect_right(found.keys, after)
        return found.entries[start : start + limit]

    async def read(
        self, namespace: str, *, after: str | None, limit: int, block_ms: int
    ) -> Sequence[StreamEntry]:
        """Up to `limit` entries of `namespace` after `after` (None: from the oldest kept),
        waiting up to `block_ms` for the first; ValueError on a malformed `after`."""
        cursor = (0, 0) if after is None else parse_entry_id(after)
        if limit < 1:
            return []
        entries = self._after(namespace, cursor, limit)
        if entries or block_ms <= 0:
            return entries
        async with self._changed:
            try:
                async with asyncio.timeout(block_ms / 1000):
                    await self._changed.wait_for(lambda: bool(self._after(namespace, cursor, 1)))
            except TimeoutError:
                return []
        return self._after(namespace, cursor, limit)

    def __len__(self) -> int:
        """Entries kept, over every namespace."""
        return sum(len(namespace.entries) for namespace in self._namespaces.values())
