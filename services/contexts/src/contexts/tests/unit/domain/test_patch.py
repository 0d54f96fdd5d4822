"""JSON Merge Patch, checked against RFC 7396's own examples."""

import pytest
from pydantic import JsonValue

from contexts.domain.patch import merge_patch

# RFC 7396, Appendix A.
APPENDIX_A: list[tuple[JsonValue, JsonValue, JsonValue]] = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "expected"), APPENDIX_A)
def test_merge_patch_matches_rfc7396_appendix_a(
    target: JsonValue, patch: JsonValue, expected: JsonValue
) -> None:
    assert merge_patch(target, patch) == expected


def test_merge_patch_matches_rfc7396_section_3_example() -> None:
    target: JsonValue = {
        "title": "Goodbye!",
        "author": {"givenName": "John", "familyName": "Doe"},
        "tags": ["example", "sample"],
        "content": "This will be unchanged",
    }
    patch: JsonValue = {
        "title": "Hello!",
        "phoneNumber": "+01-123-456-7890",
        "author": {"familyName": None},
        "tags": ["example"],
    }

    assert merge_patch(target, patch) == {
        "title": "Hello!",
        "author": {"givenName": "John"},
        "tags": ["example"],
        "content": "This will be unchanged",
        "phoneNumber": "+01-123-456-7890",
    }


def test_merge_patch_leaves_target_and_patch_untouched() -> None:
    target: JsonValue = {"a": {"b": 1, "keep": [1]}, "c": 2}
    patch: JsonValue = {"a": {"b": None, "new": {"x": 1}}}

    result = merge_patch(target, patch)
    assert isinstance(result, dict)
    result["c"] = 99
    inner = result["a"]
    assert isinstance(inner, dict)
    keep = inner["keep"]
    assert isinstance(keep, list)
    keep.append(2)

    assert target == {"a": {"b": 1, "keep": [1]}, "c": 2}
    assert patch == {"a": {"b": None, "new": {"x": 1}}}
