"""Opaque keyset cursors: URL-safe base64 of a small JSON document.

A page is ordered by (score descending, namespace, name); its cursor holds the last hit's
position in that order and a fingerprint of the query it belongs to, so a cursor is refused
by any other query (or after tampering) rather than silently skipping or repeating hits. The
position names a context the caller could read when the page was served: decoding it
reveals nothing.
"""

import base64
import binascii
import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from search.domain.errors import InvalidCursorError
from search.domain.query import ParsedQuery

CURSOR_VERSION = 1
MAX_CURSOR_LENGTH = 1024
_URLSAFE_BASE64 = re.compile(r"[A-Za-z0-9_-]+")
_NOT_OURS = "the cursor is not one this service issued"
_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,255}")


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ended: the last hit's score, namespace and name."""

    score: float
    namespace: str
    name: str


def query_fingerprint(
    query: ParsedQuery, namespace: str | None, kind: str | None, labels: Mapping[str, str]
) -> str:
    """A short digest of a search's query and filters, binding its cursors to it."""
    canonical = json.dumps(
        [query.websearch(), namespace, kind, sorted(labels.items())],
        ensure_ascii=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_cursor(position: Position, fingerprint: str) -> str:
    """The cursor of the page that follows `position`, for the search `fingerprint` names."""
    document = {
        "v": CURSOR_VERSION,
        "s": position.score,
        "ns": position.namespace,
        "n": position.name,
        "q": fingerprint,
    }
    raw = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, fingerprint: str) -> Position:
    """The position a cursor resumes after; `InvalidCursorError` unless issued for `fingerprint`."""
    if len(cursor) > MAX_CURSOR_LENGTH or not _URLSAFE_BASE64.fullmatch(cursor):
        raise InvalidCursorError(_NOT_OURS)
    try:
        document = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as error:
        raise InvalidCursorError(_NOT_OURS) from error
    if not isinstance(document, dict) or set(document) != {"v", "s", "ns", "n", "q"}:
        raise InvalidCursorError(_NOT_OURS)
    score, namespace, name = document["s"], document["ns"], document["n"]
    valid = (
        document["v"] == CURSOR_VERSION
        and isinstance(score, int | float)
        and not isinstance(score, bool)
        and math.isfinite(score)
        and isinstance(namespace, str)
        and _NAME.fullmatch(namespace) is not None
        and isinstance(name, str)
        and _NAME.fullmatch(name) is not None
        and isinstance(document["q"], str)
    )
    if not valid:
        raise InvalidCursorError(_NOT_OURS)
    if document["q"] != fingerprint:
        raise InvalidCursorError("the cursor belongs to a different search (query or filters)")
    return Position(float(score), namespace, name)
