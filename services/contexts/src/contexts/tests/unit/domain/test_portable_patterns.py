"""The model's patterns mean the same to the OpenAPI document's readers and to the server.

The document carries them as JSON Schema `pattern`s, which are ECMA 262 regexes; pydantic
checks them with its Rust regex engine. Shorthand classes (`\\s`, `\\S`, `\\w`, `\\d`) and `.`
differ between the two (issue 12: `group:\\u0085x` was valid per the document, since U+0085 is
not an ECMA space, and a 422 at run time), so the patterns use explicit ASCII classes only.
"""

import re

import pytest
from pydantic import TypeAdapter, ValidationError

from contexts.domain import model
from contexts.domain.model import (
    ACL_ENTRY_PATTERN,
    KIND_PATTERN,
    LABEL_KEY_PATTERN,
    NAME_PATTERN,
    AclEntry,
    ContextDraft,
    LabelKey,
    storable,
)

PATTERNS = {
    "acl-entry": ACL_ENTRY_PATTERN,
    "label-key": LABEL_KEY_PATTERN,
    "name": NAME_PATTERN,
    "kind": KIND_PATTERN,
    "etag": model.ETAG_PATTERN,
}
# Constructs whose meaning depends on the regex dialect (Unicode-aware or not, line terminators).
ENGINE_DEPENDENT = re.compile(r"\\[sSwWdDbB]|(?<!\\)\.(?![^\[]*\])|\\[zZ]|\(\?")
_ACL_ENTRY = TypeAdapter(AclEntry)
_LABEL_KEY = TypeAdapter(LabelKey)


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_patterns_use_no_engine_dependent_construct(name: str) -> None:
    assert not ENGINE_DEPENDENT.search(PATTERNS[name]), PATTERNS[name]


def test_the_document_shows_the_pattern_the_server_checks() -> None:
    schema = ContextDraft.model_json_schema()
    acl = schema["$defs"]["Acl"]["properties"]["readers"]
    assert acl["items"]["pattern"] == ACL_ENTRY_PATTERN


def _acl_entry_accepted(entry: str) -> bool:
    try:
        _ACL_ENTRY.validate_python(entry)
    except ValidationError:
        return False
    return True


def test_an_acl_entry_name_is_printable_ascii_without_space() -> None:
    """Every BMP code point (and a few beyond) as the name: accepted exactly when it is in
    U+0021..U+007E, which is what the pattern means to an ECMA regex too."""
    code_points = [*range(0x10000), 0x1F600, 0x10FFFF]
    refused_ascii = []
    accepted_other = []
    for point in code_points:
        if 0xD800 <= point <= 0xDFFF:
            continue
        accepted = _acl_entry_accepted(f"group:{chr(point)}")
        if 0x21 <= point <= 0x7E and not accepted:
            refused_ascii.append(hex(point))
        elif not 0x21 <= point <= 0x7E and accepted:
            accepted_other.append(hex(point))
    assert refused_ascii == []
    assert accepted_other == []


@pytest.mark.parametrize(
    "entry", ["group:a\n", "subject:a\u0000", "group:\u0085x", "subject:", "user:a"]
)
def test_malformed_acl_entries_are_refused(entry: str) -> None:
    assert not _acl_entry_accepted(entry)


@pytest.mark.parametrize("key", ["a\n", "app\n", "\u0660", "a\u0085b"])
def test_label_keys_are_ascii_and_end_at_the_end(key: str) -> None:
    with pytest.raises(ValidationError):
        _LABEL_KEY.validate_python(key)


@pytest.mark.parametrize("value", [2**53, -(2**53), 10**30, {"a": [1, 2**64]}, [{"b": -(10**400)}]])
def test_integers_beyond_i_json_range_are_not_storable(value: object) -> None:
    with pytest.raises(ValueError, match="RFC 7493"):
        storable(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value", [2**53 - 1, -(2**53 - 1), 1e20, -1.7976931348623157e308, True, {"x": [0, 5e-324]}]
)
def test_safe_integers_and_finite_floats_are_storable(value: object) -> None:
    assert storable(value) == value  # type: ignore[arg-type]


def test_the_error_points_at_the_offending_number() -> None:
    with pytest.raises(ValueError, match=r"\(at /a~1b/1/c~0\)"):
        storable({"a/b": [0, {"c~": 2**60}]})


def test_the_pointer_in_the_error_is_cut_short() -> None:
    with pytest.raises(ValueError, match=r"\(at /k{199}\.\.\.\)") as refused:
        storable({"k" * 10_000: 2**60})
    assert len(str(refused.value)) < 400
