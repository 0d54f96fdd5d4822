import random
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import Decision, TraceIdRatioBased
from opentelemetry.trace import SpanKind, StatusCode, format_trace_id

from slipway.observability import (
    configure_tracing,
    inject_trace_headers,
    instrument_app,
    span_processors_for,
)
from slipway.observability.tracing import ServerSpans, otlp_traces_url

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN_ID = "00f067aa0ba902b7"


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def local_provider(
    *,
    service: str = "s",
    version: str = "1",
    otlp_endpoint: str | None = None,
    sample_ratio: float = 1.0,
) -> TracerProvider:
    """A provider of the test environment that is not made the global one."""
    return configure_tracing(
        service=service,
        version=version,
        environment="test",
        otlp_endpoint=otlp_endpoint,
        sample_ratio=sample_ratio,
        set_global=False,
    )


def processors(provider: TracerProvider) -> tuple[object, ...]:
    # The SDK offers no public accessor for a provider's processors.
    return tuple(provider._active_span_processor._span_processors)


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = local_provider(service="billing", version="1.2.3")
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


def traced_app(provider: TracerProvider) -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def get_item(item_id: int) -> dict[str, str]:
        return inject_trace_headers({})

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/fail")
    async def fail() -> None:
        raise RuntimeError("kaput")

    @app.get("/unavailable", status_code=503)
    async def unavailable() -> dict[str, str]:
        return {}

    instrument_app(app, provider)
    return app


def server_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.kind is SpanKind.SERVER]


async def test_incoming_traceparent_continues_the_callers_trace(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    async with client(traced_app(provider)) as http:
        response = await http.get(
            "/items/42", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"}
        )

    [span] = server_spans(exporter)
    assert format_trace_id(span.context.trace_id) == TRACE_ID
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == PARENT_SPAN_ID
    assert span.name == "GET /items/{item_id}"
    assert response.status_code == 200
    # Outgoing calls made while handling the request carry the same trace.
    outgoing = response.json()["traceparent"]
    assert outgoing.startswith(f"00-{TRACE_ID}-{span.context.span_id:016x}-")
    # ...and so does the response, for callers that want to quote it.
    assert response.headers["traceresponse"].startswith(f"00-{TRACE_ID}-")


async def test_one_server_span_per_request_with_http_attributes(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    async with client(traced_app(provider)) as http:
        await http.get("/items/5")

    [span] = exporter.get_finished_spans()
    assert span.kind is SpanKind.SERVER
    assert span.parent is None  # no traceparent: a new trace
    assert span.attributes == {
        "http.request.method": "GET",
        "url.path": "/items/5",
        "http.route": "/items/{item_id}",
        "http.response.status_code": 200,
    }
    assert span.status.status_code is StatusCode.UNSET


async def test_5xx_and_exceptions_mark_the_span_as_an_error(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    async with client(traced_app(provider)) as http:
        assert (await http.get("/unavailable")).status_code == 503
        with pytest.raises(RuntimeError):
            await http.get("/fail")

    unavailable, failed = server_spans(exporter)
    assert unavailable.status.status_code is StatusCode.ERROR
    assert unavailable.attributes is not None
    assert unavailable.attributes["http.response.status_code"] == 503
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.status.description == "RuntimeError: kaput"
    assert failed.attributes is not None
    assert failed.attributes["http.response.status_code"] == 500
    assert [event.name for event in failed.events] == ["exception"]


async def test_tracestate_and_baggage_are_extracted_with_the_traceparent(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    headers = {
        "traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01",
        "tracestate": "vendor=abc",
        "baggage": "tenant=acme",
    }
    async with client(traced_app(provider)) as http:
        response = await http.get("/items/1", headers=headers)

    [span] = server_spans(exporter)
    assert span.context.trace_state.get("vendor") == "abc"
    assert "tenant=acme" in response.json()["baggage"]  # handlers see the caller's baggage


async def test_spans_carry_the_service_resource(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    async with client(traced_app(provider)) as http:
        await http.get("/items/1")

    [span] = server_spans(exporter)
    attributes = span.resource.attributes
    assert attributes["service.name"] == "billing"
    assert attributes["service.version"] == "1.2.3"
    assert attributes["deployment.environment"] == "test"
    assert attributes["deployment.environment.name"] == "test"


async def test_probe_paths_are_not_traced(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    async with client(traced_app(provider)) as http:
        assert (await http.get("/health")).status_code == 200
        assert (await http.get("/health/")).status_code in (200, 307)

    assert exporter.get_finished_spans() == ()


async def test_ratio_zero_drops_new_traces_but_follows_sampled_parents(
    exporter: InMemorySpanExporter,
) -> None:
    provider = local_provider(service="billing", sample_ratio=0.0)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with client(traced_app(provider)) as http:
        await http.get("/items/1")
        assert server_spans(exporter) == []
        await http.get("/items/2", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"})
    provider.shutdown()

    [span] = server_spans(exporter)
    assert format_trace_id(span.context.trace_id) == TRACE_ID


def test_inject_trace_headers_outside_a_span_adds_no_traceparent() -> None:
    assert "traceparent" not in inject_trace_headers({"accept": "application/json"})


def test_no_exporter_without_an_endpoint() -> None:
    assert span_processors_for(None) == []
    assert span_processors_for("") == []
    provider = local_provider()
    assert processors(provider) == ()
    provider.shutdown()


def test_an_endpoint_gets_a_batching_otlp_exporter() -> None:
    provider = local_provider(otlp_endpoint="http://127.0.0.1:4318")
    try:
        [processor] = processors(provider)
        assert isinstance(processor, BatchSpanProcessor)
        exporter = processor.span_exporter
        assert isinstance(exporter, OTLPSpanExporter)
        assert exporter._endpoint == "http://127.0.0.1:4318/v1/traces"
    finally:
        provider.shutdown()


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("http://collector:4318", "http://collector:4318/v1/traces"),
        ("http://collector:4318/", "http://collector:4318/v1/traces"),
        ("https://otel.example/custom/traces", "https://otel.example/custom/traces"),
    ],
)
def test_otlp_url_gets_the_traces_path_only_when_it_has_none(endpoint: str, url: str) -> None:
    assert otlp_traces_url(endpoint) == url


@pytest.mark.parametrize("ratio", [-0.1, 1.5])
def test_sample_ratio_outside_zero_to_one_is_refused(ratio: float) -> None:
    with pytest.raises(ValueError, match="sample_ratio"):
        local_provider(sample_ratio=ratio)


@pytest.mark.parametrize(("ratio", "flags"), [(1.0, "01"), (0.0, "00")])
async def test_without_span_processors_requests_still_get_ids_and_sampling(
    ratio: float, flags: str
) -> None:
    # No exporter: nothing would receive a recorded span, so none is recorded, but every
    # request still gets a trace id, a span id and the sampler's decision.
    provider = local_provider(sample_ratio=ratio)
    async with client(traced_app(provider)) as http:
        fresh = await http.get("/items/1")
        continued = await http.get(
            "/items/2",
            headers={"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01", "tracestate": "v=1"},
        )
    provider.shutdown()

    version, trace_id, span_id, sampled = fresh.headers["traceresponse"].split("-")
    assert (version, sampled) == ("00", flags)
    assert int(trace_id, 16)
    assert int(span_id, 16)
    assert fresh.json()["traceparent"] == fresh.headers["traceresponse"]
    # A sampled caller is followed whatever the ratio, and its trace state is kept.
    outgoing = continued.json()
    assert outgoing["traceparent"].startswith(f"00-{TRACE_ID}-")
    assert outgoing["traceparent"].endswith("-01")
    assert PARENT_SPAN_ID not in outgoing["traceparent"]
    assert outgoing["tracestate"] == "v=1"


@pytest.mark.parametrize("ratio", [1.0, 0.25])
async def test_an_unsampled_caller_is_followed_whatever_the_ratio(
    exporter: InMemorySpanExporter, ratio: float
) -> None:
    # Parent-based sampling (OTEL_TRACES_SAMPLER=parentbased_traceidratio): the caller's
    # decision wins both ways, so one trace is never half recorded across services.
    provider = local_provider(service="billing", sample_ratio=ratio)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with client(traced_app(provider)) as http:
        response = await http.get(
            "/items/1", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-00"}
        )
    provider.shutdown()

    assert server_spans(exporter) == []
    outgoing = response.json()["traceparent"]
    assert outgoing.startswith(f"00-{TRACE_ID}-")
    assert outgoing.endswith("-00")


class _FixedIds(RandomIdGenerator):
    """Hands out the given trace ids in turn (span ids stay random)."""

    def __init__(self, trace_ids: list[int]) -> None:
        self._trace_ids = iter(trace_ids)

    def generate_trace_id(self) -> int:
        return next(self._trace_ids)


@pytest.mark.parametrize("ratio", [1.0, 0.5, 0.1, 0.0])
def test_the_inline_root_decision_of_an_unrecorded_span_is_the_samplers(ratio: float) -> None:
    # Without processors and without an incoming trace, ServerSpans decides sampling itself
    # (no SamplingResult per request); the decision must be the SDK sampler's, trace id by
    # trace id, at the edges of the bound too.
    provider = local_provider(sample_ratio=ratio)
    bound = TraceIdRatioBased.get_bound_for_rate(ratio)
    edges = [bound - 1, bound, bound + 1, 0, TraceIdRatioBased.TRACE_ID_LIMIT]
    trace_ids = [(7 << 64) | (edge & TraceIdRatioBased.TRACE_ID_LIMIT) or 1 for edge in edges]
    trace_ids += [random.getrandbits(128) or 1 for _ in range(500)]
    provider.id_generator = _FixedIds(list(trace_ids))
    spans = ServerSpans(provider)
    scope = {"type": "http", "method": "GET", "path": "/items/1", "headers": []}

    for trace_id in trace_ids:
        span, token = spans.start(scope)
        context = span.get_span_context()
        spans.finish(span, token, scope, "/items/{item_id}", 200, False)
        expected = provider.sampler.should_sample(Context(), trace_id, "GET", SpanKind.SERVER)
        assert context.trace_id == trace_id
        assert context.trace_flags.sampled is (expected.decision is Decision.RECORD_AND_SAMPLE)
        assert not span.is_recording()
    provider.shutdown()
