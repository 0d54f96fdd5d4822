"""HTTP conditional-request checks (`If-Match`, `If-None-Match`) against the current ETag."""

import re

from contexts.domain.errors import InvalidInput, PreconditionFailed

# entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, in a comma-separated list (RFC 9110, 8.8.3).
_ENTITY_TAG = re.compile(r'\s*(W/)?("[\x21\x23-\x7e\x80-\xff]*")\s*(?:,|\Z)')


def parse_entity_tags(header: str) -> list[tuple[bool, str]]:
    """The `(weak, opaque-tag)` pairs of an ETag list header; `InvalidInput` if malformed."""
    tags: list[tuple[bool, str]] = []
    position = 0
    while position < len(header):
        match = _ENTITY_TAG.match(header, position)
        if match is None or match.end() == position:
            raise InvalidInput(f"malformed entity-tag list: {header!r}")
        tags.append((match.group(1) is not None, match.group(2)))
        position = match.end()
    if not tags:
        raise InvalidInput("empty entity-tag list")
    return tags


def check_if_match(header: str | None, current_etag: str | None) -> None:
    """Raise `PreconditionFailed` unless `If-Match` holds (strong comparison; `*` = exists)."""
    if header is None:
        return
    if current_etag is None:
        raise PreconditionFailed("If-Match: the context does not exist")
    if header.strip() == "*":
        return
    if (False, current_etag) not in parse_entity_tags(header):
        raise PreconditionFailed("If-Match: the context has changed")


def check_if_none_match(header: str | None, current_etag: str | None) -> None:
    """Raise `PreconditionFailed` unless `If-None-Match` holds (weak comparison; `*` = absent)."""
    if header is None or current_etag is None:
        return
    if header.strip() == "*":
        raise PreconditionFailed("If-None-Match: *: the context already exists")
    if current_etag in {opaque for _weak, opaque in parse_entity_tags(header)}:
        raise PreconditionFailed("If-None-Match: the context matches")
