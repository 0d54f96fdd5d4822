# ruff: noqa: S101 - a contract of pytest tests, shipped for stores outside this lib
"""The contract every `IdempotencyStore` meets, as pytest tests a store's suite inherits.

    class TestMyStore(IdempotencyStoreContract):
        @pytest.fixture
        def store(self, clock: ManualClock) -> IdempotencyStore:
            return MyStore(clock=clock)

`clock` is a `ManualClock` fixture the store must read its time from.
"""

import asyncio

import pytest

from slipway.web.idempotency.store import (
    Completed,
    IdempotencyStore,
    InProgress,
    Reserved,
    StoredResponse,
)

LEASE = 30.0
TTL = 3600.0
RESPONSE = StoredResponse(
    201, (("content-type", "application/json"), ("location", "/v1/things/1")), b'{"b":1,"a":2}'
)


class ManualClock:
    """A clock that moves only when told to: `clock.advance(seconds)`."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds`."""
        self.now += seconds


async def _reserve(store: IdempotencyStore, key: str = "k", fingerprint: str = "f") -> Reserved:
    claim = await store.reserve("alice", key, fingerprint, lease_seconds=LEASE)
    assert isinstance(claim, Reserved), claim
    return claim


class IdempotencyStoreContract:
    """Inherit it and provide a `store` fixture reading time from the `clock` fixture."""

    @pytest.fixture
    def clock(self) -> ManualClock:
        """The time the store under test reads."""
        return ManualClock()

    async def test_first_reserve_wins_and_others_see_it_in_progress(
        self, store: IdempotencyStore
    ) -> None:
        await _reserve(store)
        assert await store.reserve("alice", "k", "f", lease_seconds=LEASE) == InProgress("f")
        assert await store.get("alice", "k") == InProgress("f")

    async def test_concurrent_reserves_grant_exactly_one(self, store: IdempotencyStore) -> None:
        claims = await asyncio.gather(
            *(store.reserve("alice", "k", "f", lease_seconds=LEASE) for _ in range(20))
        )
        assert sum(isinstance(claim, Reserved) for claim in claims) == 1
        assert [c for c in claims if not isinstance(c, Reserved)] == [InProgress("f")] * 19

    async def test_keys_are_separate_per_subject(self, store: IdempotencyStore) -> None:
        await _reserve(store)
        claim = await store.reserve("bob", "k", "f", lease_seconds=LEASE)
        assert isinstance(claim, Reserved)
        # No joining of subject and key: ("alice:k", "x") is not ("alice", "k:x").
        await _reserve(store, key="k:x")
        joined = await store.reserve("alice:k", "x", "f", lease_seconds=LEASE)
        assert isinstance(joined, Reserved)

    async def test_concurrent_takeovers_of_an_expired_entry_grant_exactly_one(
        self, store: IdempotencyStore, clock: ManualClock
    ) -> None:
        claim = await _reserve(store)
        await store.complete(claim, RESPONSE, ttl_seconds=TTL)
        clock.advance(TTL)
        claims = await asyncio.gather(
            *(store.reserve("alice", "k", "g", lease_seconds=LEASE) for _ in range(20))
        )
        assert sum(isinstance(claim, Reserved) for claim in claims) == 1
        assert [c for c in claims if not isinstance(c, Reserved)] == [InProgress("g")] * 19

    async def test_holder_whose_lease_ran_out_cannot_complete(
        self, store: IdempotencyStore, clock: ManualClock
    ) -> None:
        claim = await _reserve(store)
        clock.advance(LEASE)
        assert not await store.complete(claim, RESPONSE, ttl_seconds=TTL)
        assert await store.get("alice", "k") is None

    async def test_completed_response_is_returned_byte_for_byte(
        self, store: IdempotencyStore
    ) -> None:
        claim = await _reserve(store)
        assert await store.complete(claim, RESPONSE, ttl_seconds=TTL)
        assert await store.get("alice", "k") == Completed("f", RESPONSE)
        again = await store.reserve("alice", "k", "other", lease_seconds=LEASE)
        assert again == Completed("f", RESPONSE)

    async def test_released_key_can_be_reserved_again(self, store: IdempotencyStore) -> None:
        claim = await _reserve(store)
        await store.release(claim)
        assert await store.get("alice", "k") is None
        await _reserve(store, fingerprint="g")

    async def test_expired_lease_is_taken_over_and_old_holder_cannot_complete(
        self, store: IdempotencyStore, clock: ManualClock
    ) -> None:
        stale = await _reserve(store)
        clock.advance(LEASE + 1)
        assert await store.get("alice", "k") is None
        fresh = await _reserve(store, fingerprint="g")
        assert fresh.token != stale.token
        assert not await store.complete(stale, RESPONSE, ttl_seconds=TTL)
        await store.release(stale)
        assert await store.get("alice", "k") == InProgress("g")

    async def test_expired_response_is_replaced(
        self, store: IdempotencyStore, clock: ManualClock
    ) -> None:
        claim = await _reserve(store)
        await store.complete(claim, RESPONSE, ttl_seconds=TTL)
        clock.advance(TTL - 1)
        assert isinstance(await store.get("alice", "k"), Completed)
        clock.advance(2)
        assert await store.get("alice", "k") is None
        await _reserve(store, fingerprint="g")

    async def test_release_never_drops_a_completed_response(self, store: IdempotencyStore) -> None:
        claim = await _reserve(store)
        await store.complete(claim, RESPONSE, ttl_seconds=TTL)
        await store.release(claim)
        assert await store.get("alice", "k") == Completed("f", RESPONSE)

    async def test_a_response_is_completed_once(self, store: IdempotencyStore) -> None:
        claim = await _reserve(store)
        assert await store.complete(claim, RESPONSE, ttl_seconds=TTL)
        other = StoredResponse(200, (), b"")
        assert not await store.complete(claim, other, ttl_seconds=TTL)
        assert await store.get("alice", "k") == Completed("f", RESPONSE)

    async def test_empty_and_binary_bodies_and_no_headers_round_trip(
        self, store: IdempotencyStore
    ) -> None:
        binary = StoredResponse(204, (), b"")
        claim = await _reserve(store, key="empty")
        await store.complete(claim, binary, ttl_seconds=TTL)
        assert await store.get("alice", "empty") == Completed("f", binary)
        headers = (("etag", '"x"'), ("etag", '"y"'), ("location", "/caf\xe9"))
        raw = StoredResponse(200, headers, bytes(range(256)))
        claim = await _reserve(store, key="raw")
        await store.complete(claim, raw, ttl_seconds=TTL)
        assert await store.get("alice", "raw") == Completed("f", raw)
