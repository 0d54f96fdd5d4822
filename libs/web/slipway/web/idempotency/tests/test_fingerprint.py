"""Idempotency-Key syntax and the request fingerprint."""

import pytest
from starlette.types import Scope

from slipway.web.idempotency import is_valid_key, request_fingerprint

HEADERS = ("content-type", "if-match")


def _scope(
    method: str = "POST",
    path: str = "/v1/things",
    query: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> Scope:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query,
        "headers": headers if headers is not None else [(b"content-type", b"application/json")],
    }


@pytest.mark.parametrize(
    "key", ["a", "A-z_0.9:x", "x" * 255, "550e8400-e29b-41d4-a716-446655440000"]
)
def test_keys_of_allowed_characters_up_to_255_are_valid(key: str) -> None:
    assert is_valid_key(key)


@pytest.mark.parametrize("key", ["", "x" * 256, "a b", "a/b", "ké", "abc\n"])
def test_empty_long_or_odd_keys_are_invalid(key: str) -> None:
    assert not is_valid_key(key)


def test_same_request_has_the_same_fingerprint() -> None:
    assert request_fingerprint(_scope(), b'{"a":1}', HEADERS) == request_fingerprint(
        _scope(), b'{"a":1}', HEADERS
    )


@pytest.mark.parametrize(
    ("scope", "body"),
    [
        (_scope(method="PUT"), b'{"a":1}'),
        (_scope(path="/v1/other"), b'{"a":1}'),
        (_scope(query=b"dry_run=1"), b'{"a":1}'),
        (_scope(), b'{"a": 1}'),  # bytes, not parsed JSON
        (_scope(headers=[(b"content-type", b"text/plain")]), b'{"a":1}'),
        (
            _scope(headers=[(b"content-type", b"application/json"), (b"if-match", b'"1"')]),
            b'{"a":1}',
        ),
    ],
)
def test_any_difference_in_what_the_request_asks_changes_the_fingerprint(
    scope: Scope, body: bytes
) -> None:
    assert request_fingerprint(scope, body, HEADERS) != request_fingerprint(
        _scope(), b'{"a":1}', HEADERS
    )


def test_headers_outside_the_fingerprint_do_not_change_it() -> None:
    traced = _scope(headers=[(b"content-type", b"application/json"), (b"x-request-id", b"1")])
    assert request_fingerprint(traced, b"", HEADERS) == request_fingerprint(_scope(), b"", HEADERS)


@pytest.mark.parametrize(
    ("scope", "body"),
    [
        (_scope(), b"\xed\xa0\x80"),  # a lone surrogate, UTF-8 encoded: not valid UTF-8
        (_scope(), b"\xff\xfe\x00"),
        (_scope(path="/v1/\udcff"), b""),  # a server that decodes the path with surrogateescape
        (_scope(headers=[(b"content-type", b"text/\xff")]), b""),
    ],
)
def test_bytes_that_are_not_utf8_are_fingerprinted_not_refused(scope: Scope, body: bytes) -> None:
    fingerprint = request_fingerprint(scope, body, HEADERS)
    assert len(fingerprint) == 64
    assert fingerprint != request_fingerprint(_scope(), b"", HEADERS)
