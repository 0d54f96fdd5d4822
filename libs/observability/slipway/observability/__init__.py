"""Prometheus metrics and OpenTelemetry tracing for Slipway services."""

from slipway.observability.exposition import add_metrics_route, metrics_endpoint
from slipway.observability.metrics import (
    DEFAULT_REGISTRY,
    HttpMetrics,
    http_metrics,
    readiness_gauge,
    record_readiness,
    register_process_collectors,
)
from slipway.observability.middleware import UNMATCHED_ROUTE, MetricsMiddleware
from slipway.observability.settings import ObservabilitySettings
from slipway.observability.tracing import (
    DEFAULT_TRACE_EXCLUDED_PATHS,
    NATIVE_TELEMETRY_OFF,
    TracingMiddleware,
    configure_tracing,
    disable_native_telemetry,
    inject_trace_headers,
    instrument_app,
    span_processors_for,
)

__all__ = [
    "DEFAULT_REGISTRY",
    "DEFAULT_TRACE_EXCLUDED_PATHS",
    "NATIVE_TELEMETRY_OFF",
    "UNMATCHED_ROUTE",
    "HttpMetrics",
    "MetricsMiddleware",
    "ObservabilitySettings",
    "TracingMiddleware",
    "add_metrics_route",
    "configure_tracing",
    "disable_native_telemetry",
    "http_metrics",
    "inject_trace_headers",
    "instrument_app",
    "metrics_endpoint",
    "readiness_gauge",
    "record_readiness",
    "register_process_collectors",
    "span_processors_for",
]
