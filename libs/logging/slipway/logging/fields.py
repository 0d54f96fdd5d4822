"""Processors that give every log line the same fields, from structlog and stdlib alike."""

import logging
import math
import time
from typing import Any

from opentelemetry import trace
from structlog.typing import EventDict, WrappedLogger

from slipway.logging.redaction import redact_query

# Attributes uvicorn adds for its own coloured formatter; noise in structured output.
_UVICORN_NOISE = ("color_message",)
_THREE_DIGITS = tuple(f"{n:03d}" for n in range(1000))
"""`f"{n:03d}"` for every n below 1000: two lookups render the microseconds."""
_truncate = float.__trunc__


class StandardFields:
    """Lead each event with timestamp, level, logger, event, service identity and trace ids.

    Built once per configuration; per event it formats the timestamp (reusing the date part
    within the same second) and reads the current span, nothing else.
    """

    def __init__(
        self, *, service: str, version: str, environment: str, for_humans: bool = False
    ) -> None:
        self._identity = (
            {}
            if for_humans
            else {"service": service, "version": version, "environment": environment}
        )
        self.identity = (service, version, environment)
        """What JSON lines carry after `event`, in this order (a tuple: no property call)."""
        self._for_humans = for_humans
        self._second = -1
        self._second_text = ""
        self._base: float = math.inf

    def timestamp(self, created: float) -> str:
        """`created` (epoch seconds) as the lines carry it: ISO 8601, microseconds, UTC."""
        # Within the cached second, `created - self._second` is what the full path computes,
        # `float.__trunc__` is what `int()` calls and the two table lookups are `:06d` of a
        # value below 10**6: the same text without int(), `%` or format-spec parsing (~1 kIr
        # less per line). Pinned by test_timestamps_of_both_paths_agree.
        # `_base` is the cached second when it is >= 0 (where int() is the floor), else inf.
        fraction = created - self._base
        if 0.0 <= fraction < 1.0:
            micros = _truncate(fraction * 1_000_000.0)
            digits = _THREE_DIGITS
            return f"{self._second_text}.{digits[micros // 1000]}{digits[micros % 1000]}Z"
        second = int(created)
        if second != self._second:
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
            self._base = second if second >= 0 else math.inf
        return f"{self._second_text}.{int((created - second) * 1_000_000):06d}Z"

    def __call__(self, _logger: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
        record: logging.LogRecord | None = event_dict.pop("_record", None)
        event_dict.pop("_from_structlog", None)
        if record is not None:
            created, level, name = record.created, record.levelname.lower(), record.name
        else:
            created, level, name = time.time(), method, event_dict.pop("logger", None)
        out = self.lead(
            created,
            level,
            name,
            event_dict.pop("event", ""),
            event_dict.pop("request_id", None),
            event_dict.pop("trace_id", None),
            event_dict.pop("span_id", None),
        )
        out.update(event_dict)
        return out

    def lead(
        self,
        created: float,
        level: str,
        name: str | None,
        event: Any,
        request_id: Any = None,
        trace_id: Any = None,
        span_id: Any = None,
    ) -> EventDict:
        """The leading fields of one event, in order; trace ids from the current span if unset."""
        out: EventDict = {
            "timestamp": self.timestamp(created),
            "level": level,
            "logger": name,
            "event": event,
            **self._identity,
        }
        if trace_id is None:
            span_context = trace.get_current_span().get_span_context()
            if span_context.is_valid:
                trace_id = format(span_context.trace_id, "032x")
                span_id = format(span_context.span_id, "016x")
        if not self._for_humans:
            out["request_id"] = request_id
            out["trace_id"] = trace_id
            out["span_id"] = span_id
        elif request_id is not None:
            out["request_id"] = request_id
        return out


def foreign_record_fields(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """Structure stdlib records: uvicorn access lines become fields, uvicorn noise goes."""
    args = event_dict.pop("positional_args", None)
    for key in _UVICORN_NOISE:
        event_dict.pop(key, None)
    record = event_dict.get("_record")
    if record is not None and record.name == "uvicorn.access":
        _add_access_fields(event_dict, args)
    return event_dict


def _add_access_fields(event_dict: EventDict, args: Any) -> None:
    # uvicorn logs: '%s - "%s %s HTTP/%s" %d' % (client, method, path, http_version, status)
    if not (isinstance(args, tuple) and len(args) == 5):
        return
    client, method, path, http_version, status = args
    path = redact_query(str(path))
    event_dict["event"] = f'{client} - "{method} {path} HTTP/{http_version}" {status}'
    event_dict["client_addr"] = client
    event_dict["method"] = method
    event_dict["path"] = path
    event_dict["http_version"] = http_version
    event_dict["status_code"] = status
