"""The platform's middleware stack, outermost first: the one place its order is decided."""

from collections.abc import Sequence

from opentelemetry import trace
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from slipway.web.body_limit import BodyLimitMiddleware
from slipway.web.limits import RequestLimitsMiddleware
from slipway.web.parts import AppAuth
from slipway.web.platform_layer import PlatformLayerMiddleware
from slipway.web.problems import UnhandledErrorMiddleware
from slipway.web.ratelimit import KeyFunc, RateLimitBackend, RateLimitMiddleware
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
    stack = [
        # Tracing, request id, access log, metrics and security headers, fused: one
        # coroutine layer and one `send` wrapper instead of five (docs/performance.md).
        Middleware(
            PlatformLayerMiddleware,
            tracer_provider=tracer_provider,
            docs_paths=list(docs_paths),
            trust_forwarded_proto=web.trust_forwarded_proto,
            hsts_max_age_seconds=web.hsts_max_age_seconds,
        ),
    ]
    if web.cors_origins:
        stack.append(Middleware(CORSMiddleware, **cors_options(web, CORS_EXPOSED_HEADERS)))
    stack.append(
        Middleware(
            RequestLimitsMiddleware,
            max_url_bytes=web.max_url_bytes,
            max_header_bytes=web.max_header_bytes,
        )
    )
    stack.append(Middleware(UnhandledErrorMiddleware))
    if auth is not None:
        stack.append(auth.middleware())
    if rate_limit_backend is not None:
        limits = web.rate_limit
        stack.append(
            Middleware(
                RateLimitMiddleware,
                backend=rate_limit_backend,
                requests=limits.requests,
                window_seconds=limits.window_seconds,
                key_func=rate_limit_key,
                exempt_paths=(*limits.exempt_paths, *exempt_paths),
            )
        )
    stack.append(Middleware(BodyLimitMiddleware, max_body_bytes=web.max_body_bytes))
    stack.extend(service_middleware)
    return stack
