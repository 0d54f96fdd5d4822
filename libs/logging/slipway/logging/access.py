"""The access log: one structured line per HTTP request, written by pure ASGI middleware.

Replaces uvicorn's access logger (serve with `access_log=False`). uvicorn formats a
message, the stdlib builds a LogRecord and the formatter takes it apart again; here the
event is built as a dict and goes straight through the pipeline's processors (context
vars, redaction, standard fields with request and trace ids, renderer) to its stream. With
the JSON pipeline and no context vars but the request id bound (the common case) the line is
built in its final field order at once, which is what those processors would render, and
the lines of one event-loop tick share one flush (`PipelineHandler.write_line`).
"""

import contextvars
import logging
import time
from collections.abc import Collection, Mapping
from time import perf_counter_ns
from typing import Any

import structlog
from opentelemetry.trace import SpanContext
from structlog.contextvars import get_contextvars, merge_contextvars
from structlog.typing import EventDict

from slipway.logging.fields import StandardFields
from slipway.logging.pipeline import pipeline_handler
from slipway.logging.redaction import redact_query
from slipway.logging.rendering import render_json
from slipway.logging.request_id import ASGIApp, Message, Receive, Scope, Send

ACCESS_LOGGER = "slipway.access"
"""Logger name of the access lines; set its level above INFO to turn them off."""

# structlog keeps one ContextVar per bound key here (unbound ones hold Ellipsis); reading these
# few is cheaper than `get_contextvars()`, which walks every variable of the context.
_STRUCTLOG_VARS: Mapping[str, contextvars.ContextVar[Any]] | None = getattr(
    structlog.contextvars, "_CONTEXT_VARS", None
)
_PREFIX_LENGTH = len(structlog.contextvars.STRUCTLOG_KEY_PREFIX)


def _bound_context() -> dict[str, Any]:
    """What structlog's context-var processor would merge into an event now."""
    if _STRUCTLOG_VARS is None:
        return get_contextvars()
    bound: dict[str, Any] = {}
    for name, var in _STRUCTLOG_VARS.items():
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
        and order are left to the full pipeline.
        """
        bound = _bound_context()
        request_id = bound.pop("request_id", None)
        if bound:
            return None
        client = scope.get("client")
        client_addr = f"{client[0]}:{client[1]}" if client else None
        method: str = scope["method"]
        path = _path_with_query(scope)
        http_version: str = scope.get("http_version", "1.1")
        trace_id = span_id = None
        if span is not None and span.is_valid:
            trace_id, span_id = format(span.trace_id, "032x"), format(span.span_id, "016x")
        out = fields.lead(
            time.time(),
            "info",
            self._name,
            f'{client_addr} - "{method} {path} HTTP/{http_version}" {status}',
            request_id,
            trace_id,
            span_id,
        )
        out["client_addr"] = client_addr
        out["method"] = method
        out["path"] = path
        out["http_version"] = http_version
        out["status_code"] = status
        out["duration_ms"] = round(duration_ns / 1_000_000, 3)
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
