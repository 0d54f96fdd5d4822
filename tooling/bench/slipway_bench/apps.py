"""The apps the overhead benchmark compares: one JSON handler, bare and on the platform."""

from typing import Any

from fastapi import APIRouter, FastAPI

from slipway.config import Environment, ServiceSettings
from slipway.observability import ObservabilitySettings
from slipway.web import RateLimitSettings, ServiceParts, WebSettings, create_app

BENCH_PATH = "/items/{item_id}"
"""The route both apps serve; wrk requests `/items/42`."""

# High enough that the load never runs out of tokens, so the limiter's cost is measured
# but it never answers 429 (wrk's status-error count checks that).
BENCH_RATE_LIMIT = RateLimitSettings(enabled=True, requests=1_000_000_000, window_seconds=1.0)


def item_router() -> APIRouter:
    """The JSON handler under test, identical in both apps."""
    router = APIRouter()

    @router.get(BENCH_PATH)
    async def get_item(item_id: int) -> dict[str, Any]:
        return {"id": item_id, "name": "widget", "price": 12.5, "tags": ["blue", "small"]}

    return router


def bare_app() -> FastAPI:
    """FastAPI with the handler and nothing else: no middleware, logging or tracing."""
    app = FastAPI()
    app.include_router(item_router())
    return app


def platform_settings(host: str, port: int) -> tuple[ServiceSettings, WebSettings]:
    """Production-like settings: JSON logs at INFO, rate limit on in memory, no CORS."""
    settings = ServiceSettings(
        service_name="bench", environment=Environment.PRODUCTION, log_level="INFO"
    )
    web = WebSettings(host=host, port=port, rate_limit=BENCH_RATE_LIMIT)
    return settings, web


def platform_app(
    settings: ServiceSettings,
    web: WebSettings,
    *,
    otlp_endpoint: str | None = None,
    sample_ratio: float = 1.0,
) -> FastAPI:
    """The handler through `create_app`: the full stack, tracing on with every request sampled.

    Without `otlp_endpoint` spans get ids but are not recorded (no exporter configured);
    with it they are recorded, batched and exported over OTLP/HTTP ("platform+otlp").
    """
    return create_app(
        settings,
        ServiceParts(routers=[item_router()]),
        web=web,
        observability=ObservabilitySettings(otlp_endpoint=otlp_endpoint, sample_ratio=sample_ratio),
        version="bench",
    )
