"""`create_app`: the FastAPI app every service starts from. All cross-lib wiring lives here."""

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from opentelemetry.sdk.trace import TracerProvider

from slipway.config import ServiceSettings
from slipway.logging import (
    AccessLogMiddleware,
    RequestIdMiddleware,
    configure_logging,
    configured_stream,
)
from slipway.observability import (
    NATIVE_TELEMETRY_OFF,
    MetricsMiddleware,
    ObservabilitySettings,
    add_metrics_route,
    configure_tracing,
    instrument_app,
)
from slipway.web.body_limit import BodyLimitMiddleware
from slipway.web.lifecycle import Lifecycle, ReadinessCheck, Resource
from slipway.web.probes import probes_router
from slipway.web.problems import UnhandledErrorMiddleware, install_problem_handlers
from slipway.web.ratelimit import (
    KeyFunc,
    MemoryRateLimitBackend,
    RateLimitMiddleware,
    RedisRateLimitBackend,
    principal_or_client_ip,
)
from slipway.web.responses import ORJSONResponse
from slipway.web.security import SecurityHeadersMiddleware, add_cors
from slipway.web.settings import WebSettings


class _SpanExport:
    """Flushes and closes the app's span exporter at shutdown, after every other resource."""

    name = "span-export"

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider

    async def start(self) -> None:
        """Nothing to open: the exporter connects when it first sends."""

    async def stop(self) -> None:
        """Send the spans still buffered."""
        await asyncio.to_thread(self.provider.shutdown)


def create_app(
    settings: ServiceSettings,
    *,
    web: WebSettings | None = None,
    observability: ObservabilitySettings | None = None,
    routers: Sequence[APIRouter] = (),
    resources: Sequence[Resource] = (),
    readiness_checks: Sequence[ReadinessCheck] = (),
    title: str | None = None,
    version: str | None = None,
    rate_limit_key: KeyFunc = principal_or_client_ip,
    configure_logs: bool = True,
) -> FastAPI:
    """Build a service's app: probes, problem errors, middleware, metrics, tracing, lifespan.

    `web` and `observability` default to the `web` / `observability` fields of `settings`
    when it has them; `version` defaults to `settings.version`. `resources` start in order at
    start-up and stop in reverse at shutdown.

    With `configure_logs` (the default) logging is configured from `settings` (service
    identity, level, renderer); a stream an earlier `configure_logging` set up is kept,
    otherwise lines go to stdout. Pass `configure_logs=False` to leave logging alone.
    Every request gets one access line (`slipway.access` logger, INFO); serve the app with
    uvicorn's own access log off, as `slipway.web.serve` does.
    """
    version = version or settings.version
    if web is None:
        nested_web = getattr(settings, "web", None)
        web = nested_web if isinstance(nested_web, WebSettings) else WebSettings()
    if observability is None:
        nested = getattr(settings, "observability", None)
        observability = nested if isinstance(nested, ObservabilitySettings) else None
        observability = observability or ObservabilitySettings()
    environment = settings.environment.value
    if configure_logs:
        configure_logging(
            service=settings.service_name,
            version=version,
            environment=environment,
            level=settings.log_level,
            renderer=settings.log_renderer,
            stream=configured_stream(),
        )

    tracer_provider = configure_tracing(
        service=settings.service_name,
        version=version,
        environment=environment,
        otlp_endpoint=observability.otlp_endpoint,
        sample_ratio=observability.sample_ratio,
    )
    lifecycle = Lifecycle()
    if observability.otlp_endpoint:
        lifecycle.add(_SpanExport(tracer_provider))
    limits = web.rate_limit
    if limits.enabled:
        backend: MemoryRateLimitBackend | RedisRateLimitBackend
        if limits.redis_url:
            backend = RedisRateLimitBackend(limits.redis_url, prefix=limits.key_prefix)
        else:
            backend = MemoryRateLimitBackend()
        lifecycle.add(backend)
    for resource in resources:
        lifecycle.add(resource)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with lifecycle.running():
            yield

    app = FastAPI(
        title=title or settings.service_name,
        version=version,
        lifespan=lifespan,
        default_response_class=ORJSONResponse,
        debug=False,  # tracebacks never reach clients, whatever settings.debug says
        docs_url="/docs" if web.docs_enabled else None,
        redoc_url="/redoc" if web.docs_enabled else None,
        openapi_url="/openapi.json" if web.docs_enabled else None,
        # slipway.observability's TracingMiddleware makes the one server span per request.
        telemetry=NATIVE_TELEMETRY_OFF,  # type: ignore[arg-type]
    )
    app.state.lifecycle = lifecycle
    app.state.web_settings = web

    install_problem_handlers(app)
    app.include_router(probes_router(lifecycle, readiness_checks, web.readiness_timeout_seconds))
    for router in routers:
        app.include_router(router)
    add_metrics_route(app, path=observability.metrics_path)

    # add_middleware puts each one outside those added before: the last added runs first.
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=web.max_body_bytes)
    if limits.enabled:
        app.add_middleware(
            RateLimitMiddleware,
            backend=backend,
            requests=limits.requests,
            window_seconds=limits.window_seconds,
            key_func=rate_limit_key,
            exempt_paths=(*limits.exempt_paths, observability.metrics_path),
        )
    app.add_middleware(UnhandledErrorMiddleware)
    add_cors(app, web)
    app.add_middleware(
        SecurityHeadersMiddleware,
        docs_paths=[path for path in (app.docs_url, app.redoc_url) if path],
        trust_forwarded_proto=web.trust_forwarded_proto,
        hsts_max_age_seconds=web.hsts_max_age_seconds,
    )
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(AccessLogMiddleware)  # inside the request id and the server span
    app.add_middleware(RequestIdMiddleware)

    instrument_app(app, tracer_provider)
    return app


def lifecycle_of(app: FastAPI) -> Lifecycle:
    """The Lifecycle `create_app` attached to `app`."""
    lifecycle = getattr(app.state, "lifecycle", None)
    if not isinstance(lifecycle, Lifecycle):
        raise TypeError("app was not built by slipway.web.create_app")
    return lifecycle
