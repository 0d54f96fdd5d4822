"""If-Match / If-None-Match evaluation."""

import pytest

from contexts.domain.errors import InvalidInput, PreconditionFailed
from contexts.domain.preconditions import (
    check_if_match,
    check_if_none_match,
    parse_entity_tags,
)

CURRENT = '"abc"'


def test_entity_tag_lists_parse_with_weakness_and_commas_inside_tags() -> None:
    assert parse_entity_tags('"a", W/"b",  "c,d"') == [
        (False, '"a"'),
        (True, '"b"'),
        (False, '"c,d"'),
    ]


@pytest.mark.parametrize("header", ["", "abc", '"a" "b"', '"a", junk', 'w/"a"'])
def test_malformed_entity_tag_lists_are_invalid_input(header: str) -> None:
    with pytest.raises(InvalidInput):
        parse_entity_tags(header)


@pytest.mark.parametrize("header", [None, CURRENT, f'"other", {CURRENT}', "*"])
def test_if_match_holds_for_the_current_etag_or_star(header: str | None) -> None:
    check_if_match(header, CURRENT)


@pytest.mark.parametrize("header", ['"other"', f"W/{CURRENT}"])
def test_if_match_fails_for_other_or_weak_etags(header: str) -> None:
    with pytest.raises(PreconditionFailed):
        check_if_match(header, CURRENT)


@pytest.mark.parametrize("header", ["*", CURRENT])
def test_if_match_fails_when_there_is_no_current_representation(header: str) -> None:
    with pytest.raises(PreconditionFailed):
        check_if_match(header, None)


@pytest.mark.parametrize("header", ["*", CURRENT, f"W/{CURRENT}"])
def test_if_none_match_fails_when_the_current_representation_matches(header: str) -> None:
    with pytest.raises(PreconditionFailed):
        check_if_none_match(header, CURRENT)


@pytest.mark.parametrize(
    ("header", "current"), [(None, CURRENT), ('"other"', CURRENT), ("*", None)]
)
def test_if_none_match_holds_otherwise(header: str | None, current: str | None) -> None:
    check_if_none_match(header, current)
