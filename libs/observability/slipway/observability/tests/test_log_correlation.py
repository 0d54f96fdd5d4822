"""Log lines written while handling a traced request carry that request's trace and span ids."""

import json
import logging

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_span_id, format_trace_id

from slipway.logging import configure_logging, get_logger
from slipway.logging.testing import restore_root_logger
from slipway.observability import configure_tracing, instrument_app

__all__ = ["restore_root_logger"]  # the fixture the tests below use

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"


@pytest.mark.usefixtures("restore_root_logger")
async def test_log_lines_inside_a_request_carry_the_server_spans_ids(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(service="billing", version="1.2.3", environment="test")
    exporter = InMemorySpanExporter()
    provider: TracerProvider = configure_tracing(
        service="billing", version="1.2.3", environment="test", otlp_endpoint=None, set_global=False
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def get_item(item_id: int) -> dict[str, int]:
        get_logger("billing.items").info("item fetched", item_id=item_id)
        logging.getLogger("billing.stdlib").warning("plain stdlib line")
        return {"id": item_id}

    instrument_app(app, provider)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get(
            "/items/7", headers={"traceparent": f"00-{TRACE_ID}-b7ad6b7169203331-01"}
        )
    provider.shutdown()

    assert response.status_code == 200
    [server_span] = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    by_event = {line["event"]: line for line in lines}
    for event in ("item fetched", "plain stdlib line"):
        line = by_event[event]
        assert line["trace_id"] == format_trace_id(server_span.context.trace_id) == TRACE_ID
        assert line["span_id"] == format_span_id(server_span.context.span_id)
    assert by_event["item fetched"]["item_id"] == 7
