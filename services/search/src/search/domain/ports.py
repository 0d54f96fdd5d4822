"""Ports: what the domain needs from the outside world, implemented in `adapters/`."""

from typing import Protocol

from search.domain.model import Change, ContextRef, Reader, SearchPage, SearchQuery


class SearchIndex(Protocol):
    """The index: changes applied once each, searched under contexts' ACL rules."""

    async def apply(self, event_id: str, change: Change) -> bool:
        """Apply a change delivered as event `event_id`, in one transaction with the record
        that this event was applied; False (and nothing changed) when it was applied before.

        A change older than the version indexed for its context is recorded but changes
        nothing, so late and repeated deliveries are harmless."""

    async def put(self, change: Change) -> None:
        """Apply a change that has no event (a backfill), with the same version rule; the
        context counts as listed by the current backfill even when nothing changed."""

    async def keep(self, ref: ContextRef) -> None:
        """The current backfill's catalog listed `ref` but its item cannot be indexed: leave
        whatever the index holds for it out of the backfill's removals."""

    async def begin_backfill(self) -> int:
        """Start a backfill: its generation (every write from now on counts as after it)."""

    async def remove_unlisted(self, generation: int) -> int:
        """After a complete catalog pass of backfill `generation`: remove (tombstone, as a
        deletion does) every live context that the pass did not list and that no write made
        since the backfill began; how many."""

    async def search(self, query: SearchQuery, reader: Reader) -> SearchPage:
        """The page of contexts matching `query` that `reader` may read, best first."""

    async def indexed_version(self, ref: ContextRef) -> int | None:
        """The version indexed for a context, or None when it is not in the index."""

    async def count(self) -> int:
        """How many contexts the index holds."""
