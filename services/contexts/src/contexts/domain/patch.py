"""JSON Merge Patch (RFC 7396)."""

import copy

from pydantic import JsonValue


def merge_patch(target: JsonValue, patch: JsonValue) -> JsonValue:
    """`target` with `patch` merged into it per RFC 7396; neither argument is modified."""
    return _merge(copy.deepcopy(target), patch)


def _merge(target: JsonValue, patch: JsonValue) -> JsonValue:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = target if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = _merge(result.get(name), value)
    return result
