"""OpenTelemetry tracing: provider from settings, FastAPI instrumentation, W3C propagation."""

import logging
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from fastapi import FastAPI
from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.propagators import (
    TraceResponsePropagator,
    get_global_response_propagator,
    set_global_response_propagator,
)
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

_log = logging.getLogger(__name__)

DEFAULT_TRACE_EXCLUDED_PATHS: tuple[str, ...] = ("/health", "/ready", "/metrics")
"""Probe and scrape paths: frequent, uninteresting, and they would drown real traces."""

_TRACES_PATH = "/v1/traces"


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
    """Build an SDK TracerProvider; make it the global one if `set_global` and none is set yet."""
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


def _excluded_urls(paths: Sequence[str]) -> str:
    # The instrumentation matches these regexes against scheme://host/path (no query).
    return ",".join(f"://[^/]*{re.escape(path.rstrip('/'))}/?$" for path in paths)


def instrument_app(
    app: FastAPI,
    tracer_provider: trace.TracerProvider | None = None,
    *,
    excluded_paths: Sequence[str] = DEFAULT_TRACE_EXCLUDED_PATHS,
    trace_response_header: bool = True,
) -> None:
    """Trace every request (W3C traceparent in); optionally answer with a traceresponse header."""
    # opentelemetry.instrumentation.propagators is untyped, hence the ignores below.
    if trace_response_header and get_global_response_propagator() is None:  # type: ignore[no-untyped-call]
        # Process-wide: every instrumented ASGI app answers `traceresponse: 00-<trace>-<span>-01`.
        set_global_response_propagator(TraceResponsePropagator())  # type: ignore[no-untyped-call]
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=tracer_provider,
        excluded_urls=_excluded_urls(excluded_paths),
        # Per-message `http send`/`http receive` child spans are noise for an API service.
        exclude_spans=["receive", "send"],
    )


def inject_trace_headers(headers: dict[str, str]) -> dict[str, str]:
    """Add the current trace context (W3C traceparent, baggage) to outgoing request headers."""
    propagate.inject(headers)
    return headers
