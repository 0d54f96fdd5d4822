"""`EventVisibility`: which change events a subscriber may see, shared by every subscriber.

The domain's rule (`ContextAccess.readable_by`): the latest version's owner and ACL govern a
context's whole history, a tombstone's included. The process keeps them per context in one LRU
cache (namespace, name) -> access: an event of version N refreshes its entry only when the
cached version is below N, so a change costs one lookup per process, not one per subscriber,
and a replayed older event uses the newest ACL known. An ACL change is itself a new version,
hence an event that refreshes the entry before any subscriber is shown it.

That holds while the process sees every event of the namespace, i.e. while it has a
subscriber there (each subscriber checks every entry, in order): subscribers hold
`following(namespace)` for their lifetime, and when the last one of a namespace ends, its
entries are forgotten, since changes published meanwhile would not refresh them. A replay
may then still run ahead of a lagging live subscriber of the same namespace: it is judged
by the ACL as of that subscriber's position, at most its buffer behind.
"""

import asyncio
from collections import Counter, OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from contexts.domain.events import ContextAccess
from contexts.domain.model import Actor, ContextKey
from contexts.domain.ports import AccessLookup

DEFAULT_CACHE_SIZE = 10_000


class EventVisibility:
    """Decides per event and subscriber; one instance per process (SSE and MCP alike)."""

    def __init__(self, lookup: AccessLookup, *, max_entries: int = DEFAULT_CACHE_SIZE) -> None:
        self._lookup = lookup
        self._max_entries = max_entries
        self._cache: OrderedDict[ContextKey, ContextAccess] = OrderedDict()
        self._locks: dict[ContextKey, asyncio.Lock] = {}
        self._followers: Counter[str] = Counter()
        self.lookups = 0

    def __len__(self) -> int:
        return len(self._cache)

    def followers(self, namespace: str) -> int:
        """How many subscribers of `namespace` hold `following` now."""
        return self._followers.get(namespace, 0)

    @contextmanager
    def following(self, namespace: str) -> Iterator[None]:
        """Held by a subscriber of `namespace` while it consumes the namespace's events."""
        self._followers[namespace] += 1
        try:
            yield
        finally:
            self._followers[namespace] -= 1
            if self._followers[namespace] <= 0:
                del self._followers[namespace]
                self._forget(namespace)

    async def may_see(self, actor: Actor, payload: Mapping[str, Any]) -> bool:
        """Whether `actor` may see the change event with this payload (fails closed)."""
        key = ContextKey(namespace=payload["namespace"], name=payload["name"])
        access = await self.access_at_least(key, int(payload["version"]))
        return access is not None and access.readable_by(actor)

    async def access_at_least(self, key: ContextKey, version: int) -> ContextAccess | None:
        """The cached access of `key`, looked up again if older than `version`."""
        cached = self._cached(key)
        if cached is not None and cached.version >= version:
            return cached
        # Concurrent subscribers of one new event wait for a single lookup.
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                cached = self._cached(key)
                if cached is not None and cached.version >= version:
                    return cached
                self.lookups += 1
                found = await self._lookup.access_of(key)
                if found is not None:
                    self._store(key, found)
                return found
        finally:
            if not lock.locked() and self._locks.get(key) is lock:
                del self._locks[key]

    def _forget(self, namespace: str) -> None:
        for key in [key for key in self._cache if key.namespace == namespace]:
            del self._cache[key]

    def _cached(self, key: ContextKey) -> ContextAccess | None:
        found = self._cache.get(key)
        if found is not None:
            self._cache.move_to_end(key)
        return found

    def _store(self, key: ContextKey, access: ContextAccess) -> None:
        current = self._cache.get(key)
        if current is None or current.version <= access.version:
            self._cache[key] = access
        self._cache.move_to_end(key)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)
