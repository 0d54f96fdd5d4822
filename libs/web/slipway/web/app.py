"""`create_app`: the FastAPI app every service starts from. All cross-lib wiring lives here."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.datastructures import Default
from opentelemetry.sdk.trace import TracerProvider
from starlette.routing import Route

from slipway.config import ServiceSettings
from slipway.logging import configure_logging, configured_stream
from slipway.observability import (
    NATIVE_TELEMETRY_OFF,
    ObservabilitySettings,
    add_metrics_route,
    configure_tracing,
)
from slipway.web.json_body import refuse_duplicate_keys
from slipway.web.lifecycle import Lifecycle
from slipway.web.openapi import install_platform_openapi
from slipway.web.parts import ServiceParts
from slipway.web.precompiled_route import leave_out_body_only
from slipway.web.probes import add_probe_routes
from slipway.web.problems import install_problem_handlers
from slipway.web.ratelimit import (
    KeyFunc,
    MemoryRateLimitBackend,
    RateLimitBackend,
    principal_or_client_ip,
)
from slipway.web.responses import ORJSONResponse
from slipway.web.settings import WebSettings
from slipway.web.stack import platform_middleware


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


def _nested_web(settings: ServiceSettings) -> WebSettings:
    nested = getattr(settings, "web", None)
    return nested if isinstance(nested, WebSettings) else WebSettings()


def _nested_observability(settings: ServiceSettings) -> ObservabilitySettings:
    nested = getattr(settings, "observability", None)
    return nested if isinstance(nested, ObservabilitySettings) else ObservabilitySettings()


def create_app(
    settings: ServiceSettings,
    parts: ServiceParts | None = None,
    *,
    title: str | None = None,
    description: str = "",
    version: str | None = None,
    web: WebSettings | None = None,
    observability: ObservabilitySettings | None = None,
    rate_limit_key: KeyFunc = principal_or_client_ip,
    configure_logs: bool = True,
) -> FastAPI:
    """Build a service's app from its parts: probes, problems, middleware, metrics, lifespan.

    The platform decides every order (see `slipway.web.stack` and the README): its own
    resources, then `parts.auth.resource`, then `parts.resources` start in order and stop in
    reverse; `/ready` runs the auth check, `parts.readiness_checks` (503 when one fails) and
    `parts.noncritical_checks` (200 `"degraded"` when only they fail); `parts.auth.bind`
    and then each `parts.on_app` callback see the app once it is built.

    `web` and `observability` default to the `web` / `observability` fields of `settings`;
    `title` to `settings.service_name`; `version` to `settings.version`. With
    `configure_logs` (the default) logging is configured from `settings`, keeping a stream
    an earlier `configure_logging` set up; `configure_logs=False` leaves logging alone.
    """
    parts = parts or ServiceParts()
    version = version or settings.version
    web = web or _nested_web(settings)
    observability = observability or _nested_observability(settings)
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
    backend: RateLimitBackend | None = None
    if web.rate_limit.enabled:
        if parts.rate_limit_backend is not None:
            backend = parts.rate_limit_backend  # what it uses is one of the service's resources
        else:
            memory = MemoryRateLimitBackend()
            lifecycle.add(memory)
            backend = memory
    checks = list(parts.readiness_checks)
    if parts.auth is not None:
        lifecycle.add(parts.auth.resource)
        checks.insert(0, parts.auth.readiness_check)
    for resource in parts.resources:
        lifecycle.add(resource)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        leave_out_body_only(app.router.routes)  # and routes added since create_app returned
        async with lifecycle.running():
            yield

    docs_url = "/docs" if web.docs_enabled else None
    redoc_url = "/redoc" if web.docs_enabled else None
    app = FastAPI(
        title=title or settings.service_name,
        description=description,
        version=version,
        lifespan=lifespan,
        default_response_class=Default(ORJSONResponse),
        debug=False,  # tracebacks never reach clients, whatever settings.debug says
        docs_url=docs_url,
        redoc_url=redoc_url,
        openapi_url="/openapi.json" if web.docs_enabled else None,
        # On every route with a JSON body; left out of the others' (see the end).
        dependencies=[Depends(refuse_duplicate_keys)],
        middleware=platform_middleware(
            web,
            docs_paths=[path for path in (docs_url, redoc_url) if path],
            exempt_paths=[observability.metrics_path],
            rate_limit_backend=backend,
            rate_limit_key=rate_limit_key,
            auth=parts.auth,
            service_middleware=parts.middleware,
            tracer_provider=tracer_provider,
        ),
        # The platform layer (slipway.web.platform_layer) makes the one server span per request.
        telemetry=NATIVE_TELEMETRY_OFF,  # type: ignore[arg-type]
    )
    app.state.lifecycle = lifecycle
    app.state.web_settings = web

    install_problem_handlers(app)
    # On the app's own router, not included: cheaper to try on every other request.
    add_probe_routes(
        app.router,
        lifecycle,
        checks,
        web.readiness_timeout_seconds,
        noncritical=parts.noncritical_checks,
    )
    for router in parts.routers:
        app.include_router(router)
    add_metrics_route(app, path=observability.metrics_path)
    for mount in parts.mounts:
        if mount.exact:
            app.router.routes.append(
                Route(mount.path, endpoint=mount.app, name=mount.name, include_in_schema=False)
            )
        else:
            app.mount(mount.path, mount.app, name=mount.name)

    install_platform_openapi(
        app,
        rate_limited=backend is not None,
        rate_limit_exempt=(*web.rate_limit.exempt_paths, observability.metrics_path),
    )
    if parts.auth is not None:
        parts.auth.bind(app)
    for callback in parts.on_app:
        callback(app)
    # The duplicate-key check does nothing on a route without a body: not solved there at all.
    leave_out_body_only(app.router.routes)
    return app


def lifecycle_of(app: FastAPI) -> Lifecycle:
    """The Lifecycle `create_app` attached to `app`."""
    lifecycle = getattr(app.state, "lifecycle", None)
    if not isinstance(lifecycle, Lifecycle):
        raise TypeError("app was not built by slipway.web.create_app")
    return lifecycle
