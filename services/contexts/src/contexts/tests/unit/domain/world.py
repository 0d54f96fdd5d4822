"""A registry wired to in-memory ports and a controllable clock, as the tests build it."""

from dataclasses import dataclass
from itertools import count
from uuid import UUID

from contexts.domain.builtin_kinds import default_kinds
from contexts.domain.service import ContextRegistry
from contexts.tests.unit.domain.fakes import FixedClock, InMemoryStore


@dataclass
class World:
    """A registry and the in-memory state behind it."""

    registry: ContextRegistry
    store: InMemoryStore
    clock: FixedClock


def make_world(store: InMemoryStore | None = None, list_batch_size: int = 3) -> World:
    """A registry over `store` (a fresh one by default), fetching small batches when listing."""
    store = InMemoryStore() if store is None else store
    clock = FixedClock()
    ids = count(1)
    registry = ContextRegistry(
        store.unit_of_work,
        default_kinds(),
        clock,
        new_id=lambda: UUID(int=next(ids)),
        list_batch_size=list_batch_size,
    )
    return World(registry, store, clock)
