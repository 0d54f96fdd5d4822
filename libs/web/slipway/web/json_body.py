"""Refuse JSON request bodies with duplicate object keys (422), which JSON parsers let win last.

`{"kind": "a", ..., "kind": "b"}` is valid JSON whose meaning depends on the parser: one that
checks the first `kind` and one that acts on the last disagree. `create_app` adds
`refuse_duplicate_keys` as an app-wide dependency: on every route with a JSON body (any
`application/json` or `+json` type) it re-reads the body FastAPI already decoded, with
`json.loads`' C scanner and a hook per object that only compares sizes, so a clean body
costs one more parse and no Python-level walk; only a refused body is walked again, to name
the key and where it is. On a route without a body it has nothing to check: `body_only` tells
`PrecompiledRoute` to leave it out of the route's plan, so such a GET does not even call it.
"""

import json
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from slipway.web.precompiled_route import body_only
from slipway.web.problems import expects_json_body, is_json

DUPLICATE_KEY_ERROR = "json_duplicate_key"


class _DuplicateKeyError(ValueError):
    """Raised from the object hook on the first object with a repeated key."""


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _DuplicateKeyError
    return obj


class _Pairs(list[tuple[str, Any]]):
    """An object as its key/value pairs, for locating the duplicate."""


def _find_duplicate(node: Any, path: tuple[str | int, ...]) -> tuple[str | int, ...] | None:
    if isinstance(node, _Pairs):
        seen: set[str] = set()
        for name, _ in node:
            if name in seen:
                return (*path, name)
            seen.add(name)
        children: list[tuple[str | int, Any]] = list(node)
    elif isinstance(node, list):
        children = list(enumerate(node))
    else:
        return None
    for key, value in children:
        found = _find_duplicate(value, (*path, key))
        if found is not None:
            return found
    return None


def duplicate_key_path(body: bytes | str) -> tuple[str | int, ...] | None:
    """The path to the first repeated key in a JSON document, or None (invalid JSON too)."""
    try:
        json.loads(body, object_pairs_hook=_unique)
    except _DuplicateKeyError:
        return _find_duplicate(json.loads(body, object_pairs_hook=_Pairs), ())
    except ValueError:
        return None  # not JSON: FastAPI has answered that already
    return None


@body_only  # a precompiled route (no body) leaves it out of its plan
async def refuse_duplicate_keys(request: Request) -> None:
    """Raise a 422 validation problem naming the key when the JSON body repeats one."""
    if not expects_json_body(request):
        return
    content_type = request.headers.get("content-type")
    if content_type is not None and not is_json(content_type):
        return  # not decoded as JSON: the body's own validation answers
    body = await request.body()
    if not body:
        return
    path = duplicate_key_path(body)
    if path is None:
        return
    raise RequestValidationError(
        [
            {
                "type": DUPLICATE_KEY_ERROR,
                "loc": ("body", *path),
                "msg": f"duplicate key {path[-1]!r}: every object key must be unique",
                "input": None,
            }
        ]
    )
