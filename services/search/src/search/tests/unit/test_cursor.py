"""Cursors: opaque, bound to their search, refused when tampered with."""

import base64
import json

import pytest

from search.domain.cursor import Position, decode_cursor, encode_cursor, query_fingerprint
from search.domain.errors import InvalidCursorError
from search.domain.query import parse_query

FINGERPRINT = query_fingerprint(parse_query("rollback"), "team-a", None, {})


def _forge(document: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


def test_a_cursor_round_trips_exactly() -> None:
    position = Position(score=0.1666666716337204, namespace="team-a", name="runbook")

    assert decode_cursor(encode_cursor(position, FINGERPRINT), FINGERPRINT) == position


def test_a_cursor_of_another_search_is_refused() -> None:
    cursor = encode_cursor(Position(1.0, "team-a", "x"), FINGERPRINT)
    others = [
        query_fingerprint(parse_query("roll back"), "team-a", None, {}),
        query_fingerprint(parse_query("rollback"), "team-b", None, {}),
        query_fingerprint(parse_query("rollback"), "team-a", "document", {}),
        query_fingerprint(parse_query("rollback"), "team-a", None, {"env": "prod"}),
    ]

    for other in others:
        with pytest.raises(InvalidCursorError, match="different search"):
            decode_cursor(cursor, other)


def test_the_same_search_spelled_differently_shares_its_cursors() -> None:
    assert query_fingerprint(parse_query("Rollback"), None, None, {}) == query_fingerprint(
        parse_query("  rollback "), None, None, {}
    )


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64!",
        "x" * 2000,
        "AAAA",
        _forge([1, 2]),
        _forge({"v": 2, "s": 1.0, "ns": "a", "n": "b", "q": FINGERPRINT}),
        _forge({"v": 1, "s": "1", "ns": "a", "n": "b", "q": FINGERPRINT}),
        _forge({"v": 1, "s": True, "ns": "a", "n": "b", "q": FINGERPRINT}),
        _forge({"v": 1, "s": 1.0, "ns": "a\x00", "n": "b", "q": FINGERPRINT}),
        _forge({"v": 1, "s": 1.0, "ns": "", "n": "b", "q": FINGERPRINT}),
        _forge({"v": 1, "s": 1.0, "ns": "a", "n": "b", "q": FINGERPRINT, "x": 1}),
        base64.urlsafe_b64encode(b'{"v":1,"s":NaN,"ns":"a","n":"b","q":"x"}').decode().strip("="),
    ],
)
def test_a_tampered_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursorError):
        decode_cursor(cursor, FINGERPRINT)
