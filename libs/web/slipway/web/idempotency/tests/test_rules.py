"""The pure rules every store decides by: what holds a key, who may complete or release it."""

from slipway.web.idempotency import (
    Completed,
    InProgress,
    Record,
    StoredResponse,
    live_entry,
    may_complete,
    may_release,
)

NOW = 1_000.0
RESPONSE = StoredResponse(201, (), b"{}")
RESERVED = Record("f", "t", NOW + 10)
COMPLETED = Record("f", "t", NOW + 10, RESPONSE)


def test_live_reservation_and_response_hold_the_key() -> None:
    assert live_entry(RESERVED, NOW) == InProgress("f")
    assert live_entry(COMPLETED, NOW) == Completed("f", RESPONSE)


def test_absent_or_expired_records_leave_the_key_free() -> None:
    assert live_entry(None, NOW) is None
    assert live_entry(RESERVED, NOW + 10) is None  # expiry is inclusive: at expires_at it is gone
    assert live_entry(COMPLETED, NOW + 11) is None


def test_only_the_token_of_a_live_reservation_may_complete() -> None:
    assert may_complete(RESERVED, "t", NOW)
    assert not may_complete(RESERVED, "other", NOW)
    assert not may_complete(RESERVED, "t", NOW + 10)
    assert not may_complete(COMPLETED, "t", NOW)
    assert not may_complete(None, "t", NOW)


def test_the_token_may_release_its_reservation_even_expired_but_never_a_response() -> None:
    assert may_release(RESERVED, "t")
    assert may_release(Record("f", "t", NOW - 1), "t")
    assert not may_release(RESERVED, "other")
    assert not may_release(COMPLETED, "t")
    assert not may_release(None, "t")
