"""Canonical JSON and the SHA-256 digests taken of it: content (no-op writes, audit) and
idempotency. These digests stay inside the service: a digest of content is a way to test
guesses of it, so no ETag or other value sent to a caller is derived from one."""

import hashlib
import json
from collections.abc import Mapping

from pydantic import JsonValue

# Headers that change what a request does, so a replayed idempotency key must repeat them.
IDEMPOTENCY_HEADERS = ("content-type", "if-match", "if-none-match")


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


def request_hash(method: str, path: str, body: JsonValue | None, headers: Mapping[str, str]) -> str:
    """The hash identifying a request for idempotency: method, path, canonical body, headers."""
    relevant = {name.lower(): value for name, value in headers.items()}
    fingerprint: JsonValue = {
        "method": method.upper(),
        "path": path,
        "body": body,
        "headers": {name: relevant[name] for name in IDEMPOTENCY_HEADERS if name in relevant},
    }
    return sha256_hex(canonical_json(fingerprint))
