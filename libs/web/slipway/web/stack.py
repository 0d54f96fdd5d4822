"""The platform's middleware stack, outermost first: the one place its order is decided."""

from collections.abc import Sequence
from typing import Any

from opentelemetry import trace
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from slipway.web.guard import RequestGuardMiddleware
from slipway.web.parts import AppAuth
from slipway.web.platform_layer import PlatformLayerMiddleware
from slipway.web.ratelimit import KeyFunc, RateLimitBackend
from slipway.web.security import cors_options
from slipway.web.settings import WebSettings

# Headers a browser script may read on a cross-origin response.
CORS_EXPOSED_HEADERS = (
    "X-Request-ID",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "Idempotent-Replayed",
    "traceresponse",
)


def platform_middleware(
    web: WebSettings,
    *,
    docs_paths: Sequence[str],
    exempt_paths: Sequence[str],
    rate_limit_backend: RateLimitBackend | None,
    rate_limit_key: KeyFunc,
    auth: AppAuth | None,
    service_middleware: Sequence[Middleware],
    tracer_provider: trace.TracerProvider | None = None,
) -> list[Middleware]:
    """Every middleware of a service's app, outermost first.

    `PlatformLayerMiddleware` first: the server span (on `tracer_provider`, default the
    global one) wraps everything, then the request id, so every later line and problem
    carries one; the access line and the metrics see the final status, security headers
    (the innermost part of that layer) and CORS reach error responses too; the
    URL and header limits (414, 431) come before any work is done for the request; auth
    sits just outside the rate limiter, which keys on the principal auth leaves in
    `scope["state"]["principal"]`; the body limit is innermost of the platform's, then the
    service's own middleware in the order listed.
    """
    # Tracing, request id, access log, metrics and security headers, fused: one coroutine
    # layer and one `send` wrapper instead of five (docs/performance.md).
    layer: dict[str, Any] = {
        "tracer_provider": tracer_provider,
        "docs_paths": list(docs_paths),
        "trust_forwarded_proto": web.trust_forwarded_proto,
        "hsts_max_age_seconds": web.hsts_max_age_seconds,
    }
    # The URL and header limits, the error guard, the rate limiter and the body limit, fused
    # too: into the platform layer, unless CORS sits between them; split around auth, which
    # must run between the error guard and the rate limiter (docs/performance.md).
    checks: dict[str, Any] = {
        "max_url_bytes": web.max_url_bytes,
        "max_header_bytes": web.max_header_bytes,
        "unhandled_errors": True,
    }
    inner: dict[str, Any] = {"max_body_bytes": web.max_body_bytes}
    if rate_limit_backend is not None:
        limits = web.rate_limit
        inner.update(
            rate_limit_backend=rate_limit_backend,
            rate_limit_requests=limits.requests,
            rate_limit_window_seconds=limits.window_seconds,
            rate_limit_key=rate_limit_key,
            rate_limit_exempt_paths=(*limits.exempt_paths, *exempt_paths),
        )
    guard = checks if auth is not None else {**checks, **inner}
    if web.cors_origins:
        stack = [
            Middleware(PlatformLayerMiddleware, **layer),
            Middleware(CORSMiddleware, **cors_options(web, CORS_EXPOSED_HEADERS)),
            Middleware(RequestGuardMiddleware, **guard),
        ]
    else:
        stack = [Middleware(PlatformLayerMiddleware, **layer, request_guard=guard)]
    if auth is not None:
        stack.append(auth.middleware())
        stack.append(Middleware(RequestGuardMiddleware, **inner))
    stack.extend(service_middleware)
    return stack
