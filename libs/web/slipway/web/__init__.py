"""The FastAPI app factory every Slipway service uses, and how to serve it."""

from slipway.web.app import create_app, lifecycle_of
from slipway.web.idempotency import (
    ACCEPTS_IDEMPOTENCY_KEY,
    IDEMPOTENCY_KEY_PATTERN,
    IdempotencyMiddleware,
    IdempotencySettings,
    IdempotencyStore,
    InMemoryIdempotencyStore,
)
from slipway.web.json_body import refuse_duplicate_keys
from slipway.web.lifecycle import BackgroundTask, Lifecycle, ReadinessCheck, Resource
from slipway.web.media_types import MediaTypeGuard, accepts
from slipway.web.parts import AppAuth, Mount, ServiceParts
from slipway.web.precompiled_route import PrecompiledRoute
from slipway.web.problems import ProblemError, problem_response
from slipway.web.responses import ORJSONResponse, ProblemResponse
from slipway.web.server import DrainingServer, build_server, serve
from slipway.web.service import Service, render_openapi
from slipway.web.settings import RateLimitSettings, WebSettings

__all__ = [
    "ACCEPTS_IDEMPOTENCY_KEY",
    "IDEMPOTENCY_KEY_PATTERN",
    "AppAuth",
    "BackgroundTask",
    "DrainingServer",
    "IdempotencyMiddleware",
    "IdempotencySettings",
    "IdempotencyStore",
    "InMemoryIdempotencyStore",
    "Lifecycle",
    "MediaTypeGuard",
    "Mount",
    "ORJSONResponse",
    "PrecompiledRoute",
    "ProblemError",
    "ProblemResponse",
    "RateLimitSettings",
    "ReadinessCheck",
    "Resource",
    "Service",
    "ServiceParts",
    "WebSettings",
    "accepts",
    "build_server",
    "create_app",
    "lifecycle_of",
    "problem_response",
    "refuse_duplicate_keys",
    "render_openapi",
    "serve",
]
