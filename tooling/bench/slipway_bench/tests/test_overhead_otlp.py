"""The overhead benchmark's OTLP variant: the receiver takes real exports; ratios are reported."""

import threading
from collections.abc import Iterator

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from slipway_bench.otlp_sink import SinkStats, make_server
from slipway_bench.overhead import OTLP_KIND, _verdicts, parse_args
from slipway_bench.verdict import Summary


@pytest.fixture
def sink() -> Iterator[tuple[str, SinkStats]]:
    stats = SinkStats()
    server = make_server("127.0.0.1", 0, stats)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces", stats
    server.shutdown()
    server.server_close()


def test_the_sink_accepts_what_the_sdks_otlp_exporter_sends(
    sink: tuple[str, SinkStats],
) -> None:
    url, stats = sink
    finished = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(finished))
    with provider.get_tracer("bench").start_as_current_span("GET /items/{item_id}"):
        pass

    result = OTLPSpanExporter(endpoint=url).export(finished.get_finished_spans())

    assert result is SpanExportResult.SUCCESS
    assert stats.as_dict()["requests"] == 1
    assert stats.as_dict()["body_bytes"] > 0


def test_the_benchmark_runs_all_three_apps_by_default() -> None:
    args = parse_args([])

    assert args.kinds == ["bare", "platform", OTLP_KIND]
    assert args.otlp_sample_ratio == 1.0


def test_the_otlp_variant_is_compared_with_the_platform_and_with_bare() -> None:
    def summary(requests_per_second: float) -> Summary:
        return Summary(runs=1, requests_per_second=requests_per_second, p50_ms=1.0, p99_ms=2.0)

    verdicts = _verdicts(
        {"bare": summary(1000.0), "platform": summary(800.0), OTLP_KIND: summary(720.0)}
    )

    assert verdicts["platform/bare"].throughput_ratio == pytest.approx(0.8)
    assert verdicts[f"{OTLP_KIND}/platform"].throughput_ratio == pytest.approx(0.9)
    assert verdicts[f"{OTLP_KIND}/bare"].throughput_ratio == pytest.approx(0.72)
