"""Opaque keyset-pagination cursors: URL-safe base64 of a small JSON document.

A cursor names the last context of the page it ends (always one the caller could read, so
decoding it reveals nothing) and a fingerprint of the query it belongs to, so a cursor is
refused by any other query rather than silently skipping or repeating results.
"""

import base64
import binascii
import json
import re

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contexts.domain.errors import InvalidCursor
from contexts.domain.hashing import canonical_json, sha256_hex
from contexts.domain.model import LabelSelector, Name

CURSOR_VERSION = 1
MAX_CURSOR_LENGTH = 512
_URLSAFE_BASE64 = re.compile(r"[A-Za-z0-9_-]+")


class _CursorPayload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    v: int = Field(ge=CURSOR_VERSION, le=CURSOR_VERSION)
    after: Name
    query: str


def query_fingerprint(namespace: str, kind: str | None, label: LabelSelector | None) -> str:
    """A short digest of a listing's filters, binding its cursors to it."""
    selector = None if label is None else f"{label.key}={label.value}"
    return sha256_hex(canonical_json([namespace, kind, selector]))[:16]


def encode_cursor(after: str, query: str) -> str:
    """The cursor of the page that follows the context named `after`, for query `query`."""
    payload = _CursorPayload(v=CURSOR_VERSION, after=after, query=query)
    raw = payload.model_dump_json().encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, query: str) -> str:
    """The name a cursor resumes after; raises `InvalidCursor` unless issued for `query`."""
    if len(cursor) > MAX_CURSOR_LENGTH or not _URLSAFE_BASE64.fullmatch(cursor):
        raise InvalidCursor("cursor is not one this service issued")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = _CursorPayload.model_validate(json.loads(raw))
    except (binascii.Error, ValueError, ValidationError) as error:
        raise InvalidCursor("cursor is not one this service issued") from error
    if payload.query != query:
        raise InvalidCursor("cursor belongs to a different listing (namespace, kind or label)")
    return payload.after
