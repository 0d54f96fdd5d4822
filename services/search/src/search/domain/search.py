"""A search, checked and planned once for every backend: filters, parsed query, page position.

`plan_search` refuses what no backend should see (an empty or oversized query, a filter that
cannot name a context, a page size out of range, a cursor of another search) with
`InvalidQueryError` / `InvalidCursorError`; `page_of` turns the rows a backend found (one more than
the page, to know whether another follows) into the `SearchPage` and its cursor.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from search.domain.cursor import Position, decode_cursor, encode_cursor, query_fingerprint
from search.domain.errors import InvalidQueryError
from search.domain.model import SearchHit, SearchPage, SearchQuery
from search.domain.query import ParsedQuery, parse_query

MIN_PAGE_SIZE = 1
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
MAX_LABEL_FILTERS = 16
# contexts' own patterns (its domain/model.py): a filter no context could match is refused.
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
KIND_PATTERN = r"^[a-z][a-z0-9-]{0,62}$"
LABEL_KEY_PATTERN = r"^[a-z0-9]([a-z0-9._/-]{0,61}[a-z0-9])?$"
LABEL_VALUE_PATTERN = r"^[^\x00-\x1f\x7f]{0,256}$"
_NAME = re.compile(NAME_PATTERN)
_KIND = re.compile(KIND_PATTERN)
_LABEL_KEY = re.compile(LABEL_KEY_PATTERN)
_LABEL_VALUE = re.compile(LABEL_VALUE_PATTERN)


@dataclass(frozen=True, slots=True)
class SearchPlan:
    """What a backend runs: the parsed query, the filters, the page size and where it starts."""

    query: ParsedQuery
    namespace: str | None
    kind: str | None
    labels: Mapping[str, str]
    limit: int
    after: Position | None
    fingerprint: str


def _check_filters(
    namespace: str | None, kind: str | None, labels: Mapping[str, str], limit: int
) -> None:
    if not MIN_PAGE_SIZE <= limit <= MAX_PAGE_SIZE:
        raise InvalidQueryError(f"limit must be between {MIN_PAGE_SIZE} and {MAX_PAGE_SIZE}")
    if namespace is not None and not _NAME.fullmatch(namespace):
        raise InvalidQueryError(f"namespace must match {NAME_PATTERN}")
    if kind is not None and not _KIND.fullmatch(kind):
        raise InvalidQueryError(f"kind must match {KIND_PATTERN}")
    if len(labels) > MAX_LABEL_FILTERS:
        raise InvalidQueryError(f"at most {MAX_LABEL_FILTERS} label filters")
    for key, value in labels.items():
        if not _LABEL_KEY.fullmatch(key):
            raise InvalidQueryError(f"label key must match {LABEL_KEY_PATTERN}")
        if not _LABEL_VALUE.fullmatch(value):
            raise InvalidQueryError("label value must be printable text of at most 256 characters")


def plan_search(query: SearchQuery) -> SearchPlan:
    """The checked plan of `query`; `InvalidQueryError` or `InvalidCursorError` if it cannot run."""
    _check_filters(query.namespace, query.kind, query.labels, query.limit)
    parsed = parse_query(query.text)
    labels = dict(query.labels)
    fingerprint = query_fingerprint(parsed, query.namespace, query.kind, labels)
    after = None if query.cursor is None else decode_cursor(query.cursor, fingerprint)
    return SearchPlan(parsed, query.namespace, query.kind, labels, query.limit, after, fingerprint)


def parse_label_filters(selectors: Sequence[str]) -> dict[str, str]:
    """`key:value` selectors as a mapping (every one must hold); `InvalidQueryError` if malformed
    or when two name the same key with different values."""
    labels: dict[str, str] = {}
    for selector in selectors:
        key, separator, value = selector.partition(":")
        if not separator:
            raise InvalidQueryError("a label filter is key:value")
        if labels.get(key, value) != value:
            raise InvalidQueryError(f"label {key} is asked for with two values")
        labels[key] = value
    return labels


def page_of(hits: Sequence[SearchHit], plan: SearchPlan) -> SearchPage:
    """The page of the first `plan.limit` hits; a cursor when the backend found one more."""
    page = tuple(hits[: plan.limit])
    if len(hits) <= plan.limit or not page:
        return SearchPage(hits=page, next_cursor=None)
    last = page[-1]
    position = Position(last.score, last.ref.namespace, last.ref.name)
    return SearchPage(hits=page, next_cursor=encode_cursor(position, plan.fingerprint))
