"""The access log: one structured line per HTTP request, written by pure ASGI middleware.

Replaces uvicorn's access logger (serve with `access_log=False`). uvicorn formats a
message, the stdlib builds a LogRecord and the formatter takes it apart again; here the
event is built as a dict and goes straight through the pipeline's processors (context
vars, redaction, standard fields with request and trace ids, renderer) to its stream. With
the JSON pipeline and no context vars but the request id bound (the common case) the line is
built in its final field order at once, which is what those processors would render, and
the lines of one event-loop tick share one flush (`PipelineHandler.write_line`).
"""

import logging
import time
from collections.abc import Collection
from time import perf_counter_ns
from typing import Any

import orjson
import structlog
from opentelemetry import trace
from opentelemetry.trace import SpanContext
from structlog.contextvars import get_contextvars, merge_contextvars
from structlog.typing import EventDict

from slipway.logging.fields import StandardFields
from slipway.logging.pipeline import pipeline_handler
from slipway.logging.redaction import redact_query
from slipway.logging.rendering import render_json, to_json_compatible
from slipway.logging.request_id import (
    STRUCTLOG_REQUEST_ID,
    STRUCTLOG_VARS,
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
)

ACCESS_LOGGER = "slipway.access"
"""Logger name of the access lines; set its level above INFO to turn them off."""

_PREFIX_LENGTH = len(structlog.contextvars.STRUCTLOG_KEY_PREFIX)
_OTHERS_BOUND: Any = object()
"""What `_bound_request_id` returns when other keys are bound too."""
_EXACT_ROUNDING_NS = 10**15
"""Below this many ns, integer rounding to the microsecond equals float rounding (off a half)."""


def _bound_request_id() -> Any:
    """The bound `request_id` (None if unbound), or `_OTHERS_BOUND` if other keys are bound.

    `_bound_context().pop("request_id", None)` when nothing else is bound, cheaper when the
    request id's is the only variable structlog has (the usual case: one `get`, no loop).
    """
    if STRUCTLOG_VARS is not None and len(STRUCTLOG_VARS) == 1:
        var = STRUCTLOG_VARS.get(STRUCTLOG_REQUEST_ID)
        if var is not None:
            value = var.get(Ellipsis)
            return None if value is Ellipsis else value
    bound = _bound_context()
    request_id = bound.pop("request_id", None)
    return _OTHERS_BOUND if bound else request_id


def _bound_context() -> dict[str, Any]:
    """What structlog's context-var processor would merge into an event now."""
    if STRUCTLOG_VARS is None:
        return get_contextvars()
    bound: dict[str, Any] = {}
    for name, var in STRUCTLOG_VARS.items():
        value = var.get(Ellipsis)
        if value is not Ellipsis:
            bound[name[_PREFIX_LENGTH:]] = value
    return bound


def _path_with_query(scope: Scope) -> str:
    path: str = scope.get("root_path", "") + scope["path"]
    query: bytes = scope.get("query_string", b"")
    if query:
        return redact_query(f"{path}?{query.decode('latin-1')}")
    return path


def access_event(scope: Scope, status: int, duration_ns: int, logger: str) -> EventDict:
    """The access line's fields; `event` keeps uvicorn's `client - "GET /p HTTP/1.1" 200`."""
    client = scope.get("client")
    client_addr = f"{client[0]}:{client[1]}" if client else None
    method: str = scope["method"]
    path = _path_with_query(scope)
    http_version: str = scope.get("http_version", "1.1")
    return {
        "event": f'{client_addr} - "{method} {path} HTTP/{http_version}" {status}',
        "logger": logger,
        "client_addr": client_addr,
        "method": method,
        "path": path,
        "http_version": http_version,
        "status_code": status,
        "duration_ms": round(duration_ns / 1_000_000, 3),
    }


class AccessLog:
    """Writes access lines: what `AccessLogMiddleware` and the platform's fused layer share."""

    def __init__(
        self, *, logger_name: str = ACCESS_LOGGER, excluded_paths: Collection[str] = ()
    ) -> None:
        self._name = logger_name
        self._logger = logging.getLogger(logger_name)
        self._excluded = frozenset(excluded_paths)
        self._last_client: tuple[Any, str | None] = (None, None)

    def wanted(self, path: str) -> bool:
        """Whether a request to `path` gets a line (path not excluded, INFO enabled)."""
        return path not in self._excluded and self._logger.isEnabledFor(logging.INFO)

    def write(
        self, scope: Scope, status: int, duration_ns: int, span: SpanContext | None = None
    ) -> None:
        """Write the line of the request `scope`, answered with `status`.

        `span` is the current span's context when the caller has it at hand (the platform's
        fused layer does), which spares looking it up; the line's trace and span ids are the
        current span's either way.
        """
        handler = pipeline_handler()
        if handler is not None:
            fields = handler.json_fields()
            if fields is not None:
                line = self._json_line(fields, scope, status, duration_ns, span)
                if line is not None:
                    handler.write_line(line)
                    return
        event_dict = access_event(scope, status, duration_ns, self._name)
        if handler is not None:
            handler.emit_event("info", merge_contextvars(None, "info", event_dict))
            return
        # Logging set up some other way: an ordinary stdlib record, fields as extras.
        event = event_dict.pop("event")
        event_dict.pop("logger")
        extra: dict[str, Any] = dict(event_dict)
        self._logger.info(event, extra=extra)

    def _json_line(
        self,
        fields: StandardFields,
        scope: Scope,
        status: int,
        duration_ns: int,
        span: SpanContext | None = None,
    ) -> str | None:
        """The line the JSON pipeline would render, built in its final order in one go.

        Equal to running `access_event` through context-var merging, redaction, standard
        fields and the renderer: none of the access fields has a sensitive name or a
        container value (the query is masked in `_path_with_query`), so redaction has nothing
        to do. None when context vars other than the request id are bound: their redaction
        and order are left to the full pipeline. One dict literal in the final key order
        (no `lead` call, no growing dict), ids by `to_bytes().hex()` and the duration by
        integer rounding: ~15 kIr less per line than the generic steps, byte for byte the
        same (pinned by test_access_line_bytes.py).
        """
        request_id = _bound_request_id()
        if request_id is _OTHERS_BOUND:
            return None
        client = scope.get("client")
        # A server passes the same client tuple for every request of a connection: its text
        # is reused while that tuple (of an immutable str and int) is the last one seen.
        last_client, client_addr = self._last_client
        if client is not last_client:
            client_addr = None
            if client:
                client_addr = f"{client[0]}:{client[1]}"
                if type(client) is tuple and type(client[0]) is str and type(client[1]) is int:
                    self._last_client = (client, client_addr)
        method: str = scope["method"]
        path = _path_with_query(scope)
        http_version: str = scope.get("http_version", "1.1")
        # The given span's ids, else the current span's, as `StandardFields.lead` takes them.
        # A SpanContext is the tuple (trace_id, span_id, is_remote, trace_flags, trace_state,
        # is_valid) and its properties are Python calls returning `self[i]`: indexing it is
        # what they do, at a fifth of the cost (pinned by test_span_context_is_the_tuple_...).
        if span is None or not span[5]:
            span = trace.get_current_span().get_span_context()
        trace_id = span_id = None
        if span[5]:
            # == format(id, "032x") / "016x" at half the cost: valid ids fit 16 and 8 bytes.
            trace_id, span_id = span[0].to_bytes(16).hex(), span[1].to_bytes(8).hex()
        # == round(duration_ns / 1_000_000, 3) (pinned by test): off an exact half (x500 ns)
        # the float's rounding and the integer one agree for any duration under 10**15 ns.
        if 0 <= duration_ns < _EXACT_ROUNDING_NS and duration_ns % 1000 != 500:
            duration_ms = (duration_ns + 500) // 1000 / 1000
        else:
            duration_ms = round(duration_ns / 1_000_000, 3)
        service, version, environment = fields.identity
        out: dict[str, Any] = {
            "timestamp": fields.timestamp(time.time()),
            "level": "info",
            "logger": self._name,
            "event": f'{client_addr} - "{method} {path} HTTP/{http_version}" {status}',
            "service": service,
            "version": version,
            "environment": environment,
            "request_id": request_id,
            "trace_id": trace_id,
            "span_id": span_id,
            "client_addr": client_addr,
            "method": method,
            "path": path,
            "http_version": http_version,
            "status_code": status,
        }
        # Set apart: CPython builds a literal of up to 15 constant keys in one presized step,
        # a 16th turns it into 16 growing inserts (~1 kIr more).
        out["duration_ms"] = duration_ms
        try:  # render_json's first step; OPT_NON_STR_KEYS is moot with these str keys
            return orjson.dumps(out, default=to_json_compatible).decode()
        except TypeError:  # e.g. a bound request id orjson cannot encode: its fallbacks
            return render_json(None, "info", out)


class AccessLogMiddleware:
    """Logs every HTTP request at INFO once its response is done (or the app failed).

    Place it inside RequestIdMiddleware and the tracing middleware, so the line carries the
    request id and the server span's trace and span ids.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        logger_name: str = ACCESS_LOGGER,
        excluded_paths: Collection[str] = (),
    ) -> None:
        self.app = app
        self._access_log = AccessLog(logger_name=logger_name, excluded_paths=excluded_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app, then write the line (also when it raised)."""
        if scope["type"] != "http" or not self._access_log.wanted(scope["path"]):
            await self.app(scope, receive, send)
            return
        status = 500  # what the server answers when the app fails before responding

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        start = perf_counter_ns()
        try:
            await self.app(scope, receive, send_with_status)
        finally:
            self._access_log.write(scope, status, perf_counter_ns() - start)
