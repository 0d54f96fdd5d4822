"""OpenTelemetry tracing: provider from settings, a lean ASGI server span, W3C propagation."""

import logging
import random
from collections.abc import Collection, Sequence
from contextvars import Token
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, TraceIdRatioBased
from opentelemetry.trace import (
    INVALID_SPAN,
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from opentelemetry.trace.span import DEFAULT_TRACE_STATE
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from slipway.observability.middleware import route_template

_log = logging.getLogger(__name__)

DEFAULT_TRACE_EXCLUDED_PATHS: tuple[str, ...] = ("/health", "/ready", "/metrics")
"""Probe and scrape paths: frequent, uninteresting, and they would drown real traces."""

TRACER_NAME = "slipway.observability"
_TRACES_PATH = "/v1/traces"
_TRACERESPONSE = b"traceresponse"
# Native FastAPI (>= 0.165) telemetry switches itself on when a global SDK provider exists;
# TracingMiddleware already makes the server span, so the app must not make a second one.
NATIVE_TELEMETRY_OFF: dict[str, Any] = {"tracing": False, "metrics": False, "logs": False}
# The key `trace.set_span_in_context` stores the span under, found through that public API.
_SPAN_KEY: str = next(iter(trace.set_span_in_context(INVALID_SPAN, Context())))


def otlp_traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL: a bare base URL (http://collector:4318) gets /v1/traces."""
    if urlsplit(endpoint).path in ("", "/"):
        return endpoint.rstrip("/") + _TRACES_PATH
    return endpoint


def span_processors_for(otlp_endpoint: str | None) -> list[SpanProcessor]:
    """The export pipeline: a batching OTLP/HTTP exporter when an endpoint is set, else none."""
    if not otlp_endpoint:
        return []
    return [BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_traces_url(otlp_endpoint)))]


def configure_tracing(
    *,
    service: str,
    version: str,
    environment: str,
    otlp_endpoint: str | None,
    sample_ratio: float = 1.0,
    set_global: bool = True,
) -> TracerProvider:
    """Build an SDK TracerProvider; make it the global one if `set_global` and none is set yet.

    Without `otlp_endpoint` the provider has no span processor: spans still get ids (for
    log correlation and propagation) but nothing is queued or exported.
    """
    if not 0.0 <= sample_ratio <= 1.0:
        raise ValueError(f"sample_ratio must be between 0 and 1, got {sample_ratio}")
    resource = Resource.create(
        {
            SERVICE_NAME: service,
            SERVICE_VERSION: version,
            "deployment.environment.name": environment,
            "deployment.environment": environment,  # pre-1.27 semconv name many backends read
        }
    )
    provider = TracerProvider(
        resource=resource, sampler=ParentBased(TraceIdRatioBased(sample_ratio))
    )
    for processor in span_processors_for(otlp_endpoint):
        provider.add_span_processor(processor)
    if set_global:
        current = trace.get_tracer_provider()
        if isinstance(current, TracerProvider):
            # OpenTelemetry refuses a second global provider; say so instead of failing quietly.
            _log.warning("a global TracerProvider is already set; keeping it")
        else:
            trace.set_tracer_provider(provider)
    return provider


def _path_variants(paths: Collection[str]) -> frozenset[str]:
    # /health and /health/ alike, as the contrib instrumentation's `/?$` regex matched.
    variants: set[str] = set()
    for path in paths:
        bare = path.rstrip("/") or "/"
        variants.update((bare, bare + "/" if bare != "/" else bare))
    return frozenset(variants)


class ServerSpans:
    """Starts and ends the one SERVER span per HTTP request: what `TracingMiddleware` and the
    platform's fused layer share.

    Continues the caller's trace from the headers of the global propagator (W3C
    `traceparent`/`tracestate` and `baggage` by default), names the span `METHOD route`
    once routing has run, records `http.request.method`, `url.path`, `http.route` and
    `http.response.status_code` (set when the request ends: samplers see no attributes),
    marks 5xx and exceptions as errors, and (optionally) gives the `traceresponse` header.
    """

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None = None,
        *,
        excluded_paths: Collection[str] = DEFAULT_TRACE_EXCLUDED_PATHS,
        trace_response_header: bool = True,
    ) -> None:
        provider = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
        self._tracer = provider.get_tracer(TRACER_NAME)
        self._sdk_provider = provider if isinstance(provider, TracerProvider) else None
        self._excluded = _path_variants(excluded_paths)
        self._trace_response = trace_response_header
        # Header names the propagator reads, as raw ASGI header names. With none of them in
        # the request (the common case) extraction is skipped: the span starts a new trace.
        self._propagation_headers = frozenset(
            name.lower().encode("latin-1") for name in propagate.get_global_textmap().fields
        )
        self._empty_context = Context()
        self._root_bound = _ratio_root_bound(self._sdk_provider)
        # The SDK has no public accessor for its span processors; when its internals change,
        # `_start_span` assumes processors exist (the full SDK path is always correct).
        self._active_processor = getattr(self._sdk_provider, "_active_span_processor", None)

    def wanted(self, path: str) -> bool:
        """Whether a request to `path` is traced."""
        return path not in self._excluded

    def _parent_context(self, scope: Scope) -> Context:
        carrier: dict[str, str] | None = None
        wanted = self._propagation_headers
        for name, value in scope["headers"]:
            if name in wanted:
                key = name.decode("latin-1")
                text = value.decode("latin-1")
                if carrier is None:
                    carrier = {key: text}
                elif key in carrier:
                    carrier[key] += "," + text  # repeated header: one comma-joined value
                else:
                    carrier[key] = text
        if carrier is None:
            return self._empty_context
        return propagate.extract(carrier, context=self._empty_context)

    def _start_span(self, method: str, parent: Context) -> Span:
        provider = self._sdk_provider
        # No span processor (an empty tuple; anything else counts as some): nothing records.
        if provider is not None and getattr(self._active_processor, "_span_processors", 0) == ():
            if parent is self._empty_context and self._root_bound is not None:
                return _unrecorded_root_span(provider, self._root_bound)
            return _unrecorded_span(provider, method, parent)
        return self._tracer.start_span(
            method,
            context=parent,
            kind=SpanKind.SERVER,
            # No attributes yet: one set_attributes() at the end is ~2 us cheaper per request.
            record_exception=False,
            set_status_on_exception=False,
        )

    def start(self, scope: Scope) -> tuple[Span, Token[Context]]:
        """The request's span, made current; the token is for `finish`."""
        parent = self._parent_context(scope)
        span = self._start_span(scope["method"], parent)
        if parent is self._empty_context:
            # What set_span_in_context(span, parent) builds from an empty parent, without
            # its two calls and copy (~1.5 k instructions).
            return span, otel_context.attach(Context({_SPAN_KEY: span}))
        return span, otel_context.attach(trace.set_span_in_context(span, parent))

    def response_headers(self, span: Span) -> tuple[tuple[bytes, bytes], ...]:
        """The `traceresponse` header for the response, if any.

        A browser script reads it cross-origin only where CORS exposes it:
        `slipway.web.stack` lists it among the headers its CORS layer exposes.
        """
        if not self._trace_response:
            return ()
        ids = span.get_span_context()
        if not ids.is_valid:
            return ()
        # bytes %-formatting: the f-string's text, encoded, at half its cost.
        value = b"00-%032x-%016x-%02x" % (ids.trace_id, ids.span_id, ids.trace_flags)
        return ((_TRACERESPONSE, value),)

    @staticmethod
    def failed(span: Span, exc: BaseException) -> None:
        """Record the exception the app raised on the span, marking it as an error."""
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))

    @staticmethod
    def finish(
        span: Span, token: Token[Context], scope: Scope, route: str, status: int, failed: bool
    ) -> None:
        """Name the span, set its attributes, end it and restore the previous context.

        `status` is 0 when no response started and the app did not fail.
        """
        if type(span) is NonRecordingSpan:
            # Its update_name, set_attributes, set_status and end do nothing: skip the calls.
            otel_context.detach(token)
            return
        if span.is_recording():
            method: str = scope["method"]
            span.update_name(f"{method} {route}")
            attributes: dict[str, str | int] = {
                "http.request.method": method,
                "url.path": scope["path"],
                "http.route": route,
            }
            if status:
                attributes["http.response.status_code"] = status
            span.set_attributes(attributes)
            if status >= 500 and not failed:
                span.set_status(Status(StatusCode.ERROR))
        span.end()
        otel_context.detach(token)


class TracingMiddleware:
    """Pure ASGI middleware: one SERVER span per HTTP request, current while the app runs.

    See `ServerSpans` for what the span carries.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        excluded_paths: Collection[str] = DEFAULT_TRACE_EXCLUDED_PATHS,
        trace_response_header: bool = True,
    ) -> None:
        self.app = app
        self._spans = ServerSpans(
            tracer_provider,
            excluded_paths=excluded_paths,
            trace_response_header=trace_response_header,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        spans = self._spans
        if scope["type"] != "http" or not spans.wanted(scope["path"]):
            await self.app(scope, receive, send)
            return
        outer_root_path: str = scope.get("root_path", "")
        span, token = spans.start(scope)
        status = 0
        failed = False
        extra_headers = spans.response_headers(span)

        async def send_traced(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if extra_headers:
                    message["headers"] = [*message.get("headers", ()), *extra_headers]
            await send(message)

        try:
            await self.app(scope, receive, send_traced)
        except Exception as exc:
            if status == 0:
                status = 500  # what the server answers when the app fails before responding
            failed = True
            spans.failed(span, exc)
            raise
        finally:
            route = route_template(scope, outer_root_path)
            spans.finish(span, token, scope, route, status, failed)


def _unrecorded_span(provider: TracerProvider, name: str, parent: Context) -> Span:
    """The span the SDK would start, minus the recording nobody would receive.

    With no span processor on the provider (no exporter configured) a recorded span is
    built, timed and dropped at `end()`. The ids, the sampling decision and the trace state
    are what logs and propagation need: same sampler, same id generator, no recording.
    """
    parent_context = trace.get_current_span(parent).get_span_context()
    id_generator = provider.id_generator
    trace_id = (
        parent_context.trace_id if parent_context.is_valid else id_generator.generate_trace_id()
    )
    result = provider.sampler.should_sample(parent, trace_id, name, SpanKind.SERVER)
    sampled = result.decision is Decision.RECORD_AND_SAMPLE
    flags = TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT
    return NonRecordingSpan(
        SpanContext(
            trace_id,
            id_generator.generate_span_id(),
            is_remote=False,
            trace_flags=TraceFlags(flags),
            trace_state=result.trace_state,
        )
    )


_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_NOT_SAMPLED = TraceFlags(TraceFlags.DEFAULT)


def _ratio_root_bound(provider: TracerProvider | None) -> int | None:
    """The trace-id bound of the provider's sampler when it is exactly what
    `configure_tracing` builds (`ParentBased(TraceIdRatioBased(ratio))`), else None."""
    sampler = getattr(provider, "sampler", None)
    if type(sampler) is not ParentBased:
        return None
    root = getattr(sampler, "_root", None)
    if type(root) is not TraceIdRatioBased:
        return None
    bound = getattr(root, "bound", None)
    return bound if isinstance(bound, int) else None


def _local_span_context_fast_path() -> bool:
    """Whether `SpanContext` is still the 6-tuple (trace id, span id, is remote, flags, trace
    state, is valid) `_local_span_context` builds directly; else it calls the constructor."""
    made = tuple.__new__(SpanContext, (1, 2, False, _SAMPLED, DEFAULT_TRACE_STATE, True))
    expected = SpanContext(1, 2, is_remote=False, trace_flags=_SAMPLED)
    return made == expected and (
        made.trace_id,
        made.span_id,
        made.is_remote,
        made.trace_flags,
        made.trace_state,
        made.is_valid,
    ) == (1, 2, False, _SAMPLED, DEFAULT_TRACE_STATE, True)


_FAST_SPAN_CONTEXT = _local_span_context_fast_path()


def _local_span_context(trace_id: int, span_id: int, flags: TraceFlags) -> SpanContext:
    """`SpanContext(trace_id, span_id, is_remote=False, trace_flags=flags)` for ids that are
    valid (non-zero, in range), as the id generator's are: skipping its keyword-argument
    `__new__` saves ~2 k instructions per request."""
    if _FAST_SPAN_CONTEXT:
        return tuple.__new__(
            SpanContext, (trace_id, span_id, False, flags, DEFAULT_TRACE_STATE, True)
        )
    return SpanContext(trace_id, span_id, is_remote=False, trace_flags=flags)


def _unrecorded_root_span(provider: TracerProvider, bound: int) -> Span:
    """`_unrecorded_span` for a request with no incoming trace context, with the sampler's
    decision made inline: `ParentBased` hands a span without a parent to its root sampler,
    which samples a trace id whose low 64 bits are under its bound, with no trace state."""
    id_generator = provider.id_generator
    if type(id_generator) is RandomIdGenerator:
        # RandomIdGenerator's draws (trace id, then span id; never 0) without its two calls.
        trace_id = random.getrandbits(128)
        while not trace_id:
            trace_id = random.getrandbits(128)
        span_id = random.getrandbits(64)
        while not span_id:
            span_id = random.getrandbits(64)
    else:
        trace_id = id_generator.generate_trace_id()
        span_id = id_generator.generate_span_id()
    sampled = trace_id & TraceIdRatioBased.TRACE_ID_LIMIT < bound
    return NonRecordingSpan(
        _local_span_context(trace_id, span_id, _SAMPLED if sampled else _NOT_SAMPLED)
    )


def disable_native_telemetry(app: FastAPI) -> None:
    """Stop FastAPI's own OpenTelemetry telemetry so requests get exactly one server span.

    `create_app` passes `FastAPI(telemetry=NATIVE_TELEMETRY_OFF)`; this covers apps built
    elsewhere. FastAPI reads the same config dict on every request.
    """
    config = getattr(app, "_telemetry", None)
    if isinstance(config, dict):
        config.update(NATIVE_TELEMETRY_OFF)


def instrument_app(
    app: FastAPI,
    tracer_provider: trace.TracerProvider | None = None,
    *,
    excluded_paths: Sequence[str] = DEFAULT_TRACE_EXCLUDED_PATHS,
    trace_response_header: bool = True,
) -> None:
    """Trace every request (W3C traceparent in); optionally answer with a traceresponse header.

    Adds TracingMiddleware outside every middleware added so far: call it last.
    """
    disable_native_telemetry(app)
    app.add_middleware(
        TracingMiddleware,
        tracer_provider=tracer_provider,
        excluded_paths=excluded_paths,
        trace_response_header=trace_response_header,
    )


def inject_trace_headers(headers: dict[str, str]) -> dict[str, str]:
    """Add the current trace context (W3C traceparent, baggage) to outgoing request headers."""
    propagate.inject(headers)
    return headers
