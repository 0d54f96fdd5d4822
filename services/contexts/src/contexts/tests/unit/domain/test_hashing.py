"""Canonical JSON and the hashes built on it."""

import math

import pytest

from contexts.domain.hashing import canonical_json, content_hash


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
