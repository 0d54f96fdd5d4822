"""What identifies a request under an `Idempotency-Key`: the key's syntax and the fingerprint."""

import hashlib
import json
import re
from collections.abc import Iterable
from typing import Final

from starlette.types import Scope

IDEMPOTENCY_KEY_PATTERN: Final = re.compile(r"[A-Za-z0-9._:-]{1,255}")


def is_valid_key(key: str) -> bool:
    """Whether `key` is 1 to 255 characters of letters, digits and `._:-`."""
    return IDEMPOTENCY_KEY_PATTERN.fullmatch(key) is not None


def header_values(scope: Scope, name: bytes) -> list[str]:
    """Every value of the (lower-case) header `name` in the request, in order."""
    return [value.decode("latin-1") for header, value in scope["headers"] if header == name]


def request_fingerprint(scope: Scope, body: bytes, headers: Iterable[str]) -> str:
    """SHA-256 over method, path, query, the body's SHA-256 and the named headers' values."""
    # The body enters as its own digest: bytes, not parsed JSON, so no reordering ever matches.
    document = {
        "method": scope["method"].upper(),
        "path": scope.get("root_path", "") + scope["path"],
        "query": scope.get("query_string", b"").decode("latin-1"),
        "body": hashlib.sha256(body).hexdigest(),
        "headers": {name: header_values(scope, name.encode("latin-1")) for name in headers},
    }
    # ensure_ascii escapes every code point, lone surrogates too: no str can fail to encode.
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()
