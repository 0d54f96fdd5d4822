"""Serving the registry in the Prometheus text (or OpenMetrics) format."""

from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from slipway.observability.metrics import DEFAULT_REGISTRY


def metrics_endpoint(
    registry: CollectorRegistry | None = None,
) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint rendering `registry` in the format the scraper's Accept asks for."""
    target = DEFAULT_REGISTRY if registry is None else registry

    async def serve_metrics(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        # Collecting walks every metric (and /proc for process metrics): keep it off the loop.
        body = await run_in_threadpool(encoder, target)
        return Response(body, headers={"Content-Type": content_type})

    return serve_metrics


def add_metrics_route(
    app: Starlette, path: str = "/metrics", *, registry: CollectorRegistry | None = None
) -> None:
    """Serve `registry` at GET `path`, hidden from the OpenAPI schema."""
    app.add_route(path, metrics_endpoint(registry), methods=["GET"], include_in_schema=False)
