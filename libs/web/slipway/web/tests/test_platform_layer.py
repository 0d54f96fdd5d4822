"""The fused platform layer behaves exactly like the five middleware it replaces, stacked."""

import io
import json
import re
from collections.abc import Callable, MutableMapping
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, WebSocket
from fastapi.responses import JSONResponse, PlainTextResponse
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from slipway.config import ServiceSettings
from slipway.logging import (
    AccessLogMiddleware,
    RequestIdMiddleware,
    configure_logging,
    current_request_id,
)
from slipway.observability import MetricsMiddleware, TracingMiddleware, configure_tracing
from slipway.web import create_app
from slipway.web.platform_layer import PlatformLayerMiddleware
from slipway.web.security import SecurityHeadersMiddleware

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
HEX_ID = re.compile(r"\b[0-9a-f]{16}(?:[0-9a-f]{16})?\b")

# (method, path, request headers): every branch the layers take.
REQUESTS: list[tuple[str, str, dict[str, str]]] = [
    ("GET", "/items/1", {}),
    ("GET", "/items/2", {"x-request-id": "caller-id.1"}),
    ("GET", "/items/3", {"x-request-id": "not valid!"}),
    ("GET", "/items/4", {"traceparent": TRACEPARENT}),
    ("GET", "/items/5?token=secret&page=2", {"x-forwarded-proto": "https"}),
    ("POST", "/items/6", {}),
    ("BREW", "/items/7", {}),
    ("GET", "/unavailable", {}),
    ("GET", "/fail", {"x-request-id": "failing"}),
    ("GET", "/docs", {}),
    ("GET", "/health", {}),
    ("GET", "/metrics", {}),
    ("GET", "/nowhere", {}),
]


def routes() -> FastAPI:
    app = FastAPI()

    @app.api_route("/items/{item_id}", methods=["GET", "POST", "BREW"])
    async def item(item_id: int) -> JSONResponse:
        # The app's own X-Request-ID is replaced; its own X-Frame-Options is kept.
        headers = {"x-frame-options": "SAMEORIGIN", "X-Request-ID": "from-the-app"}
        return JSONResponse({"id": item_id, "request_id": current_request_id()}, headers=headers)

    @app.get("/unavailable")
    async def unavailable() -> JSONResponse:
        return JSONResponse({"down": True}, status_code=503)

    @app.get("/fail")
    async def fail() -> None:
        raise RuntimeError("boom")

    @app.get("/docs")
    async def docs() -> PlainTextResponse:
        return PlainTextResponse("docs")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse("")

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(current_request_id() or "")
        await websocket.close()

    return app


def fused(provider: TracerProvider, registry: CollectorRegistry) -> FastAPI:
    app = routes()
    app.add_middleware(
        PlatformLayerMiddleware,
        tracer_provider=provider,
        metrics_registry=registry,
        docs_paths=["/docs"],
        trust_forwarded_proto=True,
        hsts_max_age_seconds=600,
    )
    return app


def stacked(provider: TracerProvider, registry: CollectorRegistry) -> FastAPI:
    app = routes()  # add_middleware puts each one outside the previous ones
    app.add_middleware(
        SecurityHeadersMiddleware,
        docs_paths=["/docs"],
        trust_forwarded_proto=True,
        hsts_max_age_seconds=600,
    )
    app.add_middleware(MetricsMiddleware, registry=registry)
    app.add_middleware(AccessLogMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(TracingMiddleware, tracer_provider=provider)
    return app


def _masked(text: str) -> str:
    """Ids that differ from run to run (request, trace and span ids) replaced by a marker."""
    return HEX_ID.sub("<id>", text)


def _log_line(line: str) -> dict[str, Any]:
    fields: dict[str, Any] = json.loads(line)
    fields.pop("timestamp")
    if "duration_ms" in fields:
        fields["duration_ms"] = "<ms>"
    return {
        key: _masked(value) if isinstance(value, str) else value for key, value in fields.items()
    }


def _metric_samples(
    registry: CollectorRegistry,
) -> list[tuple[str, tuple[tuple[str, str], ...], float]]:
    return sorted(
        (sample.name, tuple(sorted(sample.labels.items())), sample.value)
        for family in registry.collect()
        for sample in family.samples
        if sample.name.endswith(("_total", "_count", "_in_progress"))
    )


async def _observe(build: Callable[[TracerProvider, CollectorRegistry], FastAPI]) -> dict[str, Any]:
    """Everything a client, the log, the metrics and the trace backend see for REQUESTS."""
    stream = io.StringIO()
    configure_logging(service="web-test", version="1", environment="test", stream=stream)
    exporter = InMemorySpanExporter()
    provider = configure_tracing(
        service="web-test", version="1", environment="test", otlp_endpoint=None, set_global=False
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    registry = CollectorRegistry()
    app = build(provider, registry)
    responses = []
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        for method, path, headers in REQUESTS:
            response = await http.request(method, path, headers=headers)
            responses.append(
                (
                    response.status_code,
                    [(name, _masked(value.decode())) for name, value in response.headers.raw],
                    _masked(response.text),
                )
            )
    provider.shutdown()
    spans = [
        (
            span.name,
            span.kind,
            dict(span.attributes or {}),
            span.status.status_code,
            span.status.description,
            [event.name for event in span.events],
            span.parent.span_id if span.parent else None,
        )
        for span in exporter.get_finished_spans()
    ]
    return {
        "responses": responses,
        "log": [_log_line(line) for line in stream.getvalue().splitlines()],
        "metrics": _metric_samples(registry),
        "spans": spans,
    }


@pytest.mark.usefixtures("restore_root_logger")
async def test_fused_layer_matches_the_five_stacked_middleware_byte_for_byte() -> None:
    expected = await _observe(stacked)
    actual = await _observe(fused)

    assert actual["responses"] == expected["responses"]
    assert actual["log"] == expected["log"]
    assert actual["metrics"] == expected["metrics"]
    assert actual["spans"] == expected["spans"]
    # The comparison covers what it claims to: every branch was taken.
    statuses = [status for status, _, _ in expected["responses"]]
    assert {500, 503, 404} <= set(statuses)
    assert len(expected["spans"]) == len(REQUESTS) - 2  # /health and /metrics are not traced


@pytest.mark.usefixtures("restore_root_logger")
async def test_fused_layer_replaces_the_apps_request_id_and_keeps_its_security_header() -> None:
    observed = await _observe(fused)

    status, headers, body = observed["responses"][1]  # sent X-Request-ID: caller-id.1
    assert status == 200
    assert [value for name, value in headers if name == b"x-request-id"] == ["caller-id.1"]
    assert [value for name, value in headers if name == b"x-frame-options"] == ["SAMEORIGIN"]
    assert json.loads(body)["request_id"] == "caller-id.1"
    line = [line for line in observed["log"] if line["logger"] == "slipway.access"][1]
    assert (line["request_id"], line["status_code"]) == ("caller-id.1", 200)


async def test_fused_layer_gives_websocket_connections_the_request_id() -> None:
    app = fused(TracerProvider(), CollectorRegistry())
    scope = {
        "type": "websocket",
        "path": "/ws",
        "raw_path": b"/ws",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"x-request-id", b"socket-1")],
        "scheme": "ws",
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "subprotocols": [],
    }
    incoming: list[MutableMapping[str, Any]] = [
        {"type": "websocket.connect"},
        {"type": "websocket.disconnect", "code": 1000},
    ]
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return incoming.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)

    assert [m for m in sent if m["type"] == "websocket.send"] == [
        {"type": "websocket.send", "text": "socket-1"}
    ]


def test_create_app_runs_the_platform_layer_outermost(service_settings: ServiceSettings) -> None:
    app = create_app(service_settings, configure_logs=False)

    classes: list[object] = [middleware.cls for middleware in app.user_middleware]
    assert classes[0] is PlatformLayerMiddleware
    replaced = {
        TracingMiddleware,
        RequestIdMiddleware,
        AccessLogMiddleware,
        MetricsMiddleware,
        SecurityHeadersMiddleware,
    }
    assert not replaced & set(classes)
