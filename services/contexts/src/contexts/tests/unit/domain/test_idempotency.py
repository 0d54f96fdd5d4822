"""Idempotency-key replay decisions."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from contexts.domain.errors import IdempotencyKeyReused
from contexts.domain.idempotency import StoredResponse, response_to_replay
from contexts.domain.ports import IdempotencyStore
from contexts.tests.unit.domain.fakes import InMemoryIdempotencyStore

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def stored(request_hash: str = "h1", expires_in: float = 60) -> StoredResponse:
    return StoredResponse(
        request_hash=request_hash,
        status=201,
        headers={"etag": '"x"'},
        body="{}",
        expires_at=NOW + timedelta(seconds=expires_in),
    )


def test_the_same_request_replays_the_stored_response() -> None:
    response = stored()

    assert response_to_replay(response, "h1", NOW) is response


def test_a_different_request_under_the_same_key_is_refused() -> None:
    with pytest.raises(IdempotencyKeyReused) as caught:
        response_to_replay(stored(), "h2", NOW)

    assert caught.value.code == "idempotency_key_reused"


def test_nothing_is_replayed_when_absent_or_expired() -> None:
    assert response_to_replay(None, "h1", NOW) is None
    assert response_to_replay(stored(expires_in=0), "h1", NOW) is None
    assert response_to_replay(stored(request_hash="h2", expires_in=-1), "h1", NOW) is None


def test_stored_responses_are_kept_per_principal() -> None:
    store: IdempotencyStore = InMemoryIdempotencyStore()

    async def scenario() -> tuple[StoredResponse | None, StoredResponse | None]:
        await store.put("key-1", "alice", stored())
        return await store.get("key-1", "alice"), await store.get("key-1", "bob")

    mine, theirs = asyncio.run(scenario())
    assert mine == stored()
    assert theirs is None
