"""The access line's fast path writes, byte for byte, what the generic pipeline renders.

`AccessLog._json_line` builds the line in one dict literal with cheaper arithmetic (integer
rounding of the duration, `to_bytes().hex()` ids indexed from the span context, the
cached-second timestamp with table digits); these tests pin
each equivalence it relies on, over many requests, odd paths, redacted queries and odd ids.
"""

import io
import math
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import (
    INVALID_SPAN_CONTEXT,
    NonRecordingSpan,
    SpanContext,
    TraceFlags,
    TraceState,
    use_span,
)
from structlog.contextvars import merge_contextvars

from slipway.logging import configure_logging
from slipway.logging.access import AccessLog, access_event
from slipway.logging.fields import StandardFields
from slipway.logging.pipeline import PipelineHandler, pipeline_handler
from slipway.logging.request_id import bind_request_id, unbind_request_id

NOW = 1_764_754_788.707133
PATHS = [
    "/items/42",
    "/",
    "",
    "/caf\u00e9/\u2603/\U0001f600",
    '/quote"d/back\\slash',
    "/ctrl\x00\x01\x1f\x7f\t\n\r",
    "/line\u2028sep\u2029",
    "/a b/%20/?/#frag",
    "/lone\ud800surrogate",
]
QUERIES = [
    b"",
    b"q=1",
    b"q=1&api_key=hunter2",
    b"token=abc&password=x&Signature=y&keep=1",
    b"a=%22quoted%22&b=\\&c=\xe9",
    b"secret",
    b"=&&=",
]
CLIENTS: list[Any] = [
    ("127.0.0.1", 50000),
    ("127.0.0.1", 50001),
    ("::1", 1),
    None,
    (),
    ["10.0.0.1", 8080],
    ('host"x', 0),
    ("a\u00e9", 65535),
]
VERSIONS = ["1.1", "1.0", "2", "3"]
STATUSES = [200, 201, 204, 304, 404, 429, 500, 503, 599]
DURATIONS = [0, 1, 499, 500, 501, 999, 1000, 1500, 2500, 123_456, 999_500, 1_000_500, 10**12 + 500]
REQUEST_IDS: list[Any] = [None, "req-1", "0123456789abcdef0123456789abcdef", 42, 2**70, {1: "x"}]


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch) -> Iterator[PipelineHandler]:
    """The JSON pipeline on a StringIO, with the clock stopped so both paths share a time."""
    monkeypatch.setattr(time, "time", lambda: NOW)
    configure_logging(service="ledger", version="2.3.4", environment="test", stream=io.StringIO())
    found = pipeline_handler()
    assert found is not None
    yield found
    structlog.contextvars.clear_contextvars()


def _written(handler: PipelineHandler, write: Any) -> str:
    stream = handler.stream
    before = len(stream.getvalue())
    write()
    handler.flush()
    text: str = stream.getvalue()[before:]
    return text


def _both_lines(
    handler: PipelineHandler, scope: dict[str, Any], status: int, duration_ns: int, span: Any
) -> tuple[str, str]:
    fast = _written(handler, lambda: AccessLog().write(scope, status, duration_ns, span))
    event = access_event(scope, status, duration_ns, "slipway.access")
    event = merge_contextvars(None, "info", event)
    full = _written(handler, lambda: handler.emit_event("info", event))
    return fast, full


def _scope(
    path: str, query: bytes, client: Any, version: str, method: str = "GET"
) -> dict[str, Any]:
    return {
        "type": "http",
        "http_version": version,
        "method": method,
        "path": path,
        "root_path": "",
        "query_string": query,
        "headers": [],
        "client": client,
    }


def test_fast_and_full_lines_are_the_same_bytes(handler: PipelineHandler) -> None:
    rng = random.Random(13)  # noqa: S311 - seeded: the same cases every run
    tracer = TracerProvider().get_tracer("t")
    cases = 0
    for request_id in REQUEST_IDS:
        binding = bind_request_id(request_id)
        try:
            for path in PATHS:
                for query in QUERIES:
                    scope = _scope(
                        path,
                        query,
                        rng.choice(CLIENTS),
                        rng.choice(VERSIONS),
                        rng.choice(["GET", "POST", "DELETE", 'weird"method']),
                    )
                    status = rng.choice(STATUSES)
                    duration = rng.choice([*DURATIONS, rng.randrange(10**10)])
                    with tracer.start_as_current_span("request") as current:
                        # the platform passes the current span's context; others pass None
                        span = rng.choice([None, current.get_span_context()])
                        fast, full = _both_lines(handler, scope, status, duration, span)
                    assert fast == full, (scope, status, duration)
                    assert fast.count("\n") == 1
                    cases += 1
        finally:
            unbind_request_id(binding)
    assert cases == len(REQUEST_IDS) * len(PATHS) * len(QUERIES)


@pytest.mark.parametrize(
    ("trace_id", "span_id"), [(1, 1), (2**128 - 1, 2**64 - 1), (0xABC << 64, 0xDEF << 8)]
)
def test_extreme_trace_and_span_ids_render_alike(
    handler: PipelineHandler, trace_id: int, span_id: int
) -> None:
    context = SpanContext(trace_id, span_id, is_remote=False, trace_flags=TraceFlags(1))
    with use_span(NonRecordingSpan(context)):
        fast, full = _both_lines(handler, _scope("/x", b"", None, "1.1"), 200, 1, context)
    assert fast == full
    assert f'"trace_id":"{trace_id:032x}","span_id":"{span_id:016x}"' in fast


def test_an_invalid_given_span_falls_back_to_the_current_one(handler: PipelineHandler) -> None:
    tracer = TracerProvider().get_tracer("t")
    invalid = NonRecordingSpan(SpanContext(0, 0, is_remote=False)).get_span_context()
    with tracer.start_as_current_span("request"):
        fast, full = _both_lines(handler, _scope("/x", b"", None, "1.1"), 200, 1, invalid)
    assert fast == full
    assert '"trace_id":null' not in fast
    fast, full = _both_lines(handler, _scope("/x", b"", None, "1.1"), 200, 1, invalid)
    assert fast == full
    assert '"trace_id":null,"span_id":null' in fast


@pytest.mark.parametrize(
    "context",
    [
        INVALID_SPAN_CONTEXT,
        SpanContext(1, 1, is_remote=False),
        SpanContext(2**128 - 1, 2**64 - 1, is_remote=True, trace_flags=TraceFlags(1)),
        SpanContext(5, 0, is_remote=False),
        SpanContext(0, 5, is_remote=False),
        SpanContext(2**128, 1, is_remote=False),
        SpanContext(7, 9, is_remote=False, trace_state=TraceState([("k", "v")])),
        TracerProvider().get_tracer("t").start_span("s").get_span_context(),
    ],
)
def test_span_context_is_the_tuple_its_properties_index(context: SpanContext) -> None:
    """`_json_line` indexes the span context where the properties would be read."""
    assert type(context) is SpanContext
    assert (context[0], context[1], context[5]) == (
        context.trace_id,
        context.span_id,
        context.is_valid,
    )


def _durations() -> Iterator[int]:
    rng = random.Random(7)  # noqa: S311 - seeded: the same cases every run
    yield from range(0, 20_000)
    for magnitude in range(3, 16):
        for _ in range(2_000):
            yield rng.randrange(10**magnitude)
    for base in (10**6, 10**9, 10**12, 10**15 - 10**6):
        for offset in (499, 500, 501, 999, 1000, 1499, 1500, 1501):
            yield base + offset


def test_integer_rounding_of_the_duration_equals_float_rounding() -> None:
    for duration_ns in _durations():
        if duration_ns % 1000 == 500:
            continue  # the fast path leaves exact halves to round()
        assert (duration_ns + 500) // 1000 / 1000 == round(duration_ns / 1_000_000, 3), duration_ns


def _reference_timestamp(created: float) -> str:
    """`StandardFields` timestamps before the cached-second shortcut."""
    second = int(created)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
    return f"{text}.{int((created - second) * 1_000_000):06d}Z"


def _instants() -> Iterator[float]:
    rng = random.Random(11)  # noqa: S311 - seeded: the same cases every run
    now = 1_764_754_788.0
    for _ in range(20_000):  # runs within one second, then on to the next ones
        now += rng.choice([0.0, 1e-6, 3e-5, 0.01, 0.3, 0.999999])
        yield now
    for second in (0.0, 1.0, 59.0, 1_000_000_000.0, 4_102_444_800.0):
        for fraction in (0.0, 1e-7, 1e-6, 0.5, 0.9999994, 0.9999996, math.nextafter(1.0, 0.0)):
            yield second + fraction
    yield from (rng.uniform(0, 4e9) for _ in range(5_000))


def test_timestamps_of_both_paths_agree() -> None:
    fields = StandardFields(service="s", version="v", environment="e")
    for created in _instants():
        assert fields.timestamp(created) == _reference_timestamp(created), repr(created)


def test_every_microsecond_of_a_second_renders_as_before() -> None:
    fields = StandardFields(service="s", version="v", environment="e")
    second = 1_764_754_788
    text = _reference_timestamp(float(second))[:-8]  # the second's part, computed once
    assert fields.timestamp(float(second)) == f"{text}.000000Z"
    for micros in range(1_000_000):  # each one once, also those a float lands just below
        created = second + micros / 1_000_000
        assert int(created) == second
        # _reference_timestamp's fraction formula, without its strftime per instant
        expected = f"{text}.{int((created - second) * 1_000_000):06d}Z"
        assert fields.timestamp(created) == expected, repr(created)


def test_a_first_timestamp_before_1970_is_not_taken_from_the_empty_cache() -> None:
    fields = StandardFields(service="s", version="v", environment="e")
    assert fields.timestamp(-0.5) == _reference_timestamp(-0.5)
    assert fields.timestamp(-1.5) == _reference_timestamp(-1.5)
    assert fields.timestamp(0.25) == _reference_timestamp(0.25)


def test_the_client_text_follows_each_requests_client(handler: PipelineHandler) -> None:
    log = AccessLog()
    lines = []
    for client in [("h", 1), ("h", 1), ("h", 2), None, ["h", 3], ["h", 4], ("h", 1), ()]:
        scope = _scope("/", b"", client, "1.1")
        lines.append(_written(handler, lambda scope=scope: log.write(scope, 200, 1)))
    addresses = [line.split('"client_addr":')[1].split(",")[0] for line in lines]
    assert addresses == ['"h:1"', '"h:1"', '"h:2"', "null", '"h:3"', '"h:4"', '"h:1"', "null"]
