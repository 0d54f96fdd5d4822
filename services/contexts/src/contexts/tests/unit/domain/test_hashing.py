"""Canonical JSON and the hashes built on it."""

import math

import pytest

from contexts.domain.hashing import canonical_json, content_hash, request_hash


def test_canonical_json_sorts_keys_drops_whitespace_and_keeps_unicode() -> None:
    assert (
        canonical_json({"b": [1, {"d": 2, "c": 3}], "a": "é"}) == '{"a":"é","b":[1,{"c":3,"d":2}]}'
    )


def test_canonical_json_refuses_nan() -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        canonical_json({"x": math.nan})


def test_content_hash_ignores_key_order_but_not_values() -> None:
    assert content_hash({"a": 1, "b": 2}) == content_hash({"b": 2, "a": 1})
    assert content_hash({"a": 1}) != content_hash({"a": 2})


def test_request_hash_ignores_header_case_irrelevant_headers_and_body_key_order() -> None:
    first = request_hash("put", "/v1/x", {"a": 1, "b": 2}, {"If-Match": '"e"', "X-Trace": "1"})
    second = request_hash("PUT", "/v1/x", {"b": 2, "a": 1}, {"if-match": '"e"', "X-Trace": "2"})

    assert first == second


@pytest.mark.parametrize(
    ("method", "path", "body", "headers"),
    [
        ("POST", "/v1/x", {"a": 1}, {"if-match": '"e"'}),
        ("PUT", "/v1/y", {"a": 1}, {"if-match": '"e"'}),
        ("PUT", "/v1/x", {"a": 2}, {"if-match": '"e"'}),
        ("PUT", "/v1/x", {"a": 1}, {"if-match": '"f"'}),
        ("PUT", "/v1/x", {"a": 1}, {"if-match": '"e"', "if-none-match": "*"}),
        ("PUT", "/v1/x", {"a": 1}, {"if-match": '"e"', "content-type": "text/plain"}),
    ],
)
def test_request_hash_changes_with_method_path_body_and_conditional_headers(
    method: str, path: str, body: dict[str, int], headers: dict[str, str]
) -> None:
    baseline = request_hash("PUT", "/v1/x", {"a": 1}, {"if-match": '"e"'})

    assert request_hash(method, path, dict(body), headers) != baseline
