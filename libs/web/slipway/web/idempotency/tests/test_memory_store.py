"""InMemoryIdempotencyStore meets the IdempotencyStore contract."""

import pytest

from slipway.web.idempotency import IdempotencyStore, InMemoryIdempotencyStore
from slipway.web.idempotency.testing import IdempotencyStoreContract, ManualClock


class TestInMemoryIdempotencyStore(IdempotencyStoreContract):
    @pytest.fixture
    def store(self, clock: ManualClock) -> IdempotencyStore:
        return InMemoryIdempotencyStore(clock=clock)


async def test_full_store_purges_expired_entries_before_adding(clock: ManualClock) -> None:
    store = InMemoryIdempotencyStore(clock=clock, max_entries=2)
    await store.reserve("alice", "a", "f", lease_seconds=1)
    await store.reserve("alice", "b", "f", lease_seconds=1)
    clock.advance(2)
    await store.reserve("alice", "c", "f", lease_seconds=1)
    assert len(store) == 1


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
