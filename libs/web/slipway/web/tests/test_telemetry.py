"""create_app's request telemetry: one server span, one access line, logging left to callers."""

import io
import json
import logging
from typing import Any

import pytest
from fastapi import APIRouter
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from slipway.config import ServiceSettings
from slipway.logging import configure_logging
from slipway.web import ServiceParts, create_app
from slipway.web.testing import app_client

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
router = APIRouter()


@router.get("/items/{item_id}")
async def get_item(item_id: int) -> dict[str, int]:
    return {"id": item_id}


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


async def test_exactly_one_server_span_per_request(service_settings: ServiceSettings) -> None:
    app = create_app(service_settings, ServiceParts(routers=[router]))
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)  # create_app installed the SDK provider
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    try:
        async with app_client(app) as client:
            response = await client.get("/items/3")
            await client.get("/health")  # excluded
    finally:
        processor.shutdown()
    assert response.status_code == 200
    spans = exporter.get_finished_spans()
    assert [span.kind for span in spans] == [SpanKind.SERVER]  # FastAPI's own tracing is off
    [span] = spans
    assert span.name == "GET /items/{item_id}"
    assert span.attributes == {
        "http.request.method": "GET",
        "url.path": "/items/3",
        "http.route": "/items/{item_id}",
        "http.response.status_code": 200,
    }


@pytest.mark.usefixtures("restore_root_logger")
async def test_one_access_line_per_request(service_settings: ServiceSettings) -> None:
    app = create_app(service_settings, ServiceParts(routers=[router]))
    stream = io.StringIO()
    configure_logging(service="web-test", version="1", environment="test", stream=stream)
    async with app_client(app) as client:
        response = await client.get(
            "/items/3?token=s3cret&page=2",
            headers={
                "x-request-id": "access-1",
                "traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01",
            },
        )
    [line] = [line for line in lines(stream) if line["logger"] == "slipway.access"]
    assert line["level"] == "info"
    assert line["request_id"] == "access-1" == response.headers["x-request-id"]
    assert (line["method"], line["status_code"]) == ("GET", 200)
    assert line["path"] == "/items/3?token=[REDACTED]&page=2"
    assert line["event"].endswith('"GET /items/3?token=[REDACTED]&page=2 HTTP/1.1" 200')
    assert isinstance(line["duration_ms"], float)
    assert line["client_addr"]
    assert line["trace_id"] == TRACE_ID
    traceresponse = response.headers["traceresponse"]
    assert traceresponse == f"00-{TRACE_ID}-{line['span_id']}-01"


@pytest.mark.usefixtures("restore_root_logger")
async def test_access_lines_follow_the_access_logger_level(
    service_settings: ServiceSettings,
) -> None:
    stream = io.StringIO()
    configure_logging(service="web-test", version="1", environment="test", stream=stream)
    app = create_app(service_settings, ServiceParts(routers=[router]))
    logging.getLogger("slipway.access").setLevel(logging.WARNING)
    try:
        async with app_client(app) as client:
            await client.get("/items/3")
    finally:
        logging.getLogger("slipway.access").setLevel(logging.NOTSET)
    assert not [line for line in lines(stream) if line["logger"] == "slipway.access"]


@pytest.mark.usefixtures("restore_root_logger")
async def test_create_app_keeps_the_stream_logging_was_configured_with(
    service_settings: ServiceSettings,
) -> None:
    stream = io.StringIO()
    configure_logging(service="other", version="0", environment="dev", stream=stream)
    app = create_app(service_settings, ServiceParts(routers=[router]))
    async with app_client(app) as client:
        await client.get("/items/3")
    [line] = [line for line in lines(stream) if line["logger"] == "slipway.access"]
    assert line["service"] == "web-test"  # identity and level from the settings, same stream


@pytest.mark.usefixtures("restore_root_logger")
async def test_configure_logs_false_leaves_logging_alone(
    service_settings: ServiceSettings,
) -> None:
    stream = io.StringIO()
    configure_logging(service="caller", version="0", environment="dev", stream=stream)
    root_handlers = logging.getLogger().handlers[:]
    app = create_app(service_settings, ServiceParts(routers=[router]), configure_logs=False)
    assert logging.getLogger().handlers == root_handlers
    async with app_client(app) as client:
        await client.get("/items/3")
    [line] = [line for line in lines(stream) if line["logger"] == "slipway.access"]
    assert line["service"] == "caller"
