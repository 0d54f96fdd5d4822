"""The access log: one structured line per HTTP request, written by pure ASGI middleware.

Replaces uvicorn's access logger (serve with `access_log=False`). uvicorn formats a
message, the stdlib builds a LogRecord and the formatter takes it apart again; here the
event is built as a dict and goes straight through the pipeline's processors (context
vars, redaction, standard fields with request and trace ids, renderer) to its stream.
"""

import logging
from collections.abc import Collection
from time import perf_counter_ns
from typing import Any

from structlog.contextvars import merge_contextvars
from structlog.typing import EventDict

from slipway.logging.pipeline import pipeline_handler
from slipway.logging.redaction import redact_query
from slipway.logging.request_id import ASGIApp, Message, Receive, Scope, Send

ACCESS_LOGGER = "slipway.access"
"""Logger name of the access lines; set its level above INFO to turn them off."""


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

    def write(self, scope: Scope, status: int, duration_ns: int) -> None:
        """Write the line of the request `scope`, answered with `status`."""
        event_dict = access_event(scope, status, duration_ns, self._name)
        handler = pipeline_handler()
        if handler is not None:
            handler.emit_event("info", merge_contextvars(None, "info", event_dict))
            return
        # Logging set up some other way: an ordinary stdlib record, fields as extras.
        event = event_dict.pop("event")
        event_dict.pop("logger")
        extra: dict[str, Any] = dict(event_dict)
        self._logger.info(event, extra=extra)


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
