"""Final renderers: one orjson line per event, or structlog's console output for people."""

import json
from typing import Any

import orjson
import structlog
from pydantic import BaseModel, SecretBytes, SecretStr
from structlog.typing import EventDict, WrappedLogger

from slipway.logging.redaction import REDACTED

_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def to_json_compatible(value: Any) -> Any:
    if isinstance(value, SecretStr | SecretBytes):
        return REDACTED
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, set | frozenset):
        return list(value)
    if isinstance(value, BaseException):
        return repr(value)
    return str(value)


def render_json(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> str:
    """The event as one line of JSON; falls back to the stdlib encoder, never raises."""
    try:
        return orjson.dumps(event_dict, default=to_json_compatible, option=_ORJSON_OPTIONS).decode()
    except TypeError:  # orjson.JSONEncodeError, e.g. an integer wider than 64 bits
        pass
    try:
        return json.dumps(event_dict, default=to_json_compatible, ensure_ascii=False)
    except (TypeError, ValueError) as exc:  # e.g. tuple keys, circular references
        fallback = {key: repr(value) for key, value in event_dict.items()}
        fallback["render_error"] = repr(exc)
        return json.dumps(fallback, ensure_ascii=False)


def console_renderer(*, colors: bool) -> structlog.dev.ConsoleRenderer:
    """structlog's human-readable renderer, for development."""
    return structlog.dev.ConsoleRenderer(colors=colors)
