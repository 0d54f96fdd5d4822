"""Structured logs for Slipway services: one JSON line per event, request ids, redaction."""

from slipway.logging.access import ACCESS_LOGGER, AccessLogMiddleware
from slipway.logging.pipeline import (
    PipelineHandler,
    Renderer,
    build_formatter,
    configure_logging,
    configured_stream,
    get_logger,
    uvicorn_log_config,
)
from slipway.logging.redaction import REDACTED, redact_value
from slipway.logging.request_id import RequestIdMiddleware, current_request_id

__all__ = [
    "ACCESS_LOGGER",
    "REDACTED",
    "AccessLogMiddleware",
    "PipelineHandler",
    "Renderer",
    "RequestIdMiddleware",
    "build_formatter",
    "configure_logging",
    "configured_stream",
    "current_request_id",
    "get_logger",
    "redact_value",
    "uvicorn_log_config",
]
