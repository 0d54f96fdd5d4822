"""Canonical JSON and the SHA-256 digests taken of it, of content (no-op writes, audit).
These digests stay inside the service: a digest of content is a way to test guesses of it,
so no ETag or other value sent to a caller is derived from one."""

import hashlib
import json

from pydantic import JsonValue


def canonical_json(value: JsonValue) -> str:
    """`value` as JSON with sorted keys, no whitespace and raw Unicode: one text per value."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def sha256_hex(text: str) -> str:
    """The hex SHA-256 of `text` encoded as UTF-8."""
    return hashlib.sha256(text.encode()).hexdigest()


def content_hash(content: JsonValue) -> str:
    """The hash of a context version's content: equal content, equal hash (internal only)."""
    return sha256_hex(canonical_json(content))
