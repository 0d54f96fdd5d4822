"""The platform's per-request work in one pure ASGI layer: span, request id, access line,
metrics and security headers.

Each of these exists as its own middleware too (`TracingMiddleware`, `RequestIdMiddleware`,
`AccessLogMiddleware`, `MetricsMiddleware`, `SecurityHeadersMiddleware`); stacked, they cost
five coroutine calls, five `send` wrappers that each run for every response message, and
four passes over the response headers. `PlatformLayerMiddleware` does the same work with
one call, one `send` wrapper, one header pass and one route-template lookup, and behaves as
those five stacked in that order (tracing outermost, security headers innermost).
"""

from collections.abc import Collection, Iterable, Mapping
from time import perf_counter_ns
from typing import Any

from opentelemetry import trace
from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from slipway.logging.access import ACCESS_LOGGER, AccessLog
from slipway.logging.request_id import (
    RequestIdMiddleware,
    bind_request_id,
    incoming_request_id,
    new_request_id,
    unbind_request_id,
)
from slipway.observability.middleware import RequestMetrics, route_template
from slipway.observability.tracing import DEFAULT_TRACE_EXCLUDED_PATHS, ServerSpans
from slipway.web.guard import RequestGuardMiddleware
from slipway.web.problems import log_unhandled_error, unhandled_error_response
from slipway.web.ratelimit.middleware import RATE_LIMIT_HEADER_NAMES
from slipway.web.security import SecurityHeaders, add_absent


class PlatformLayerMiddleware:
    """Trace, identify, log, count and secure every HTTP request, in one layer.

    Equivalent to `TracingMiddleware(RequestIdMiddleware(AccessLogMiddleware(
    MetricsMiddleware(SecurityHeadersMiddleware(app)))))` with the same options: WebSocket
    connections get the request id only, other scopes pass through. Each part can be left
    out: `request_id_header=None` (no request id), `security_headers=False`, and the
    `*_excluded_paths` of tracing, the access log and the metrics (per path); the overhead
    benchmark's `--breakdown` measures each part's cost that way.

    `request_guard` (the options of a `RequestGuardMiddleware`) fuses that layer in too, as
    if it were the next one inside: its limits, error guard, rate limit and body limit run in
    this layer's call, and the rate limiter's headers join the one header pass
    (`slipway.web.stack` does this unless CORS sits between the two).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        trace_excluded_paths: Collection[str] = DEFAULT_TRACE_EXCLUDED_PATHS,
        trace_response_header: bool = True,
        request_id_header: str | None = "X-Request-ID",
        access_logger: str = ACCESS_LOGGER,
        access_excluded_paths: Collection[str] = (),
        metrics_registry: CollectorRegistry | None = None,
        metrics_excluded_paths: Collection[str] = ("/metrics",),
        docs_paths: Iterable[str] = ("/docs", "/redoc"),
        trust_forwarded_proto: bool = False,
        hsts_max_age_seconds: int = 31_536_000,
        security_headers: bool = True,
        request_guard: Mapping[str, Any] | None = None,
    ) -> None:
        self.app = app
        self._guard = RequestGuardMiddleware(app, **request_guard) if request_guard else None
        self._spans = ServerSpans(
            tracer_provider,
            excluded_paths=trace_excluded_paths,
            trace_response_header=trace_response_header,
        )
        self._request_id_key = (
            request_id_header.lower().encode("latin-1") if request_id_header else None
        )
        self._websocket: ASGIApp = (
            RequestIdMiddleware(app, header=request_id_header) if request_id_header else app
        )
        self._access_log = AccessLog(
            logger_name=access_logger, excluded_paths=access_excluded_paths
        )
        self._metrics = RequestMetrics(
            registry=metrics_registry, excluded_paths=metrics_excluded_paths
        )
        self._security = (
            SecurityHeaders(
                docs_paths=docs_paths,
                trust_forwarded_proto=trust_forwarded_proto,
                hsts_max_age_seconds=hsts_max_age_seconds,
            )
            if security_headers
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app inside the request's span and request id; log and count it after."""
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await self._websocket(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        outer_root_path: str = scope.get("root_path", "")
        spans = self._spans
        traced = spans.start(scope) if spans.wanted(path) else None
        trailing = spans.response_headers(traced[0]) if traced is not None else ()
        request_id_key = self._request_id_key
        request_id_header: tuple[bytes, bytes] | None = None
        request_id: str | None = None
        if request_id_key is not None:
            incoming = incoming_request_id(scope.get("headers", ()), request_id_key)
            request_id = incoming or new_request_id()
            request_id_header = (request_id_key, request_id.encode("ascii"))
        security = self._security
        defaults = security.for_request(scope) if security is not None else ()
        default_names = security.names if security is not None else _NO_NAMES
        status = 0
        # The rate limiter's headers, once the fused guard admitted the request.
        admitted: tuple[tuple[bytes, bytes], ...] = ()

        async def send_with_platform_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = _response_headers(
                    message.get("headers", ()),
                    admitted,
                    defaults,
                    default_names,
                    request_id_header,
                    trailing,
                )
            await send(message)

        binding = bind_request_id(request_id) if request_id is not None else None
        access_log = self._access_log if self._access_log.wanted(path) else None
        metrics = self._metrics if self._metrics.wanted(path) else None
        method_label = metrics.started(scope["method"]) if metrics is not None else ""
        failed = False
        start = perf_counter_ns()
        try:
            guard = self._guard
            if guard is None:
                await self.app(scope, receive, send_with_platform_headers)
            elif (refusal := guard.limit_refusal(scope)) is not None:
                await guard.refuse_over_limit(scope, receive, send_with_platform_headers, refusal)
            else:
                # RequestGuardMiddleware.__call__ as the next layer, minus its send wrapper:
                # this layer's knows whether a response started and adds `admitted`.
                try:
                    headers = await guard.admitted(scope, receive, send_with_platform_headers)
                    if headers is not None:
                        admitted = headers
                        await guard.forward(scope, receive, send_with_platform_headers)
                except Exception:
                    if not guard.unhandled_errors:
                        raise
                    log_unhandled_error(scope)
                    if status:
                        raise
                    admitted = ()  # not on the 500 the guard answers itself
                    await unhandled_error_response(scope)(
                        scope, receive, send_with_platform_headers
                    )
        except Exception as exc:
            failed = True
            if traced is not None:
                spans.failed(traced[0], exc)
            raise
        finally:
            elapsed_ns = perf_counter_ns() - start
            # 500: what the server answers when the app fails before responding.
            answered = status or 500
            route = ""
            if metrics is not None or traced is not None:
                route = route_template(scope, outer_root_path)
            if metrics is not None:
                metrics.finished(method_label, route, answered, elapsed_ns / 1e9)
            if access_log is not None:
                access_log.write(
                    scope,
                    answered,
                    elapsed_ns,
                    traced[0].get_span_context() if traced is not None else None,
                )
            if binding is not None:
                unbind_request_id(binding)
            if traced is not None:
                span, token = traced
                spans.finish(span, token, scope, route, answered if failed else status, failed)


_NO_NAMES: frozenset[bytes] = frozenset()


def _response_headers(
    headers: Iterable[tuple[bytes, bytes]],
    admitted: tuple[tuple[bytes, bytes], ...],
    defaults: Iterable[tuple[bytes, bytes]],
    default_names: frozenset[bytes],
    request_id: tuple[bytes, bytes] | None,
    trailing: Iterable[tuple[bytes, bytes]],
) -> list[tuple[bytes, bytes]]:
    """The app's headers minus any request id of its own, the missing rate limit headers
    (`admitted`) and security defaults, our request id, then the trace headers: what the
    layers produced, in their order (`default_names`: every name `defaults` may have, see
    `add_absent`)."""
    request_id_key = request_id[0] if request_id is not None else None
    out = list(headers)
    present = {header[0].lower() for header in out}
    if request_id_key in present:
        out = [header for header in out if header[0].lower() != request_id_key]
    if admitted:
        # The rate limit's and the security defaults' names are disjoint: `present` need not
        # learn the ones added here.
        add_absent(out, present, admitted, RATE_LIMIT_HEADER_NAMES)
    add_absent(out, present, defaults, default_names)
    if request_id is not None:
        out.append(request_id)
    out.extend(trailing)
    return out
