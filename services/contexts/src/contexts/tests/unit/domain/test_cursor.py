"""Opaque pagination cursors."""

import base64
import json

import pytest

from contexts.domain.cursor import decode_cursor, encode_cursor, query_fingerprint
from contexts.domain.errors import InvalidCursor
from contexts.domain.model import LabelSelector

QUERY = query_fingerprint("team-a", None, None)


def test_a_cursor_round_trips_the_name_it_resumes_after() -> None:
    cursor = encode_cursor("doc-7", QUERY)

    assert decode_cursor(cursor, QUERY) == "doc-7"
    assert "=" not in cursor
    assert "doc-7" not in cursor


def test_queries_with_different_filters_have_different_fingerprints() -> None:
    env = LabelSelector.parse("env=prod")

    fingerprints = {
        QUERY,
        query_fingerprint("team-b", None, None),
        query_fingerprint("team-a", "document", None),
        query_fingerprint("team-a", None, env),
        query_fingerprint("team-a", None, LabelSelector.parse("env=dev")),
    }
    assert len(fingerprints) == 5


def test_a_cursor_is_refused_by_another_query() -> None:
    cursor = encode_cursor("doc-7", QUERY)

    with pytest.raises(InvalidCursor, match="different listing"):
        decode_cursor(cursor, query_fingerprint("team-b", None, None))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not a cursor",
        "abc$",
        "a" * 1000,
        _b64(b"\xff\xfe"),
        _b64(b"[1, 2]"),
        _b64(json.dumps({"v": 2, "after": "doc", "query": QUERY}).encode()),
        _b64(json.dumps({"v": 1, "after": "Not A Name", "query": QUERY}).encode()),
        _b64(json.dumps({"v": 1, "after": "doc", "query": QUERY, "x": 1}).encode()),
    ],
)
def test_anything_but_an_issued_cursor_is_invalid_cursor(cursor: str) -> None:
    with pytest.raises(InvalidCursor) as caught:
        decode_cursor(cursor, QUERY)

    assert caught.value.code == "invalid_cursor"
