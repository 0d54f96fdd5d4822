"""The shortcuts ServerSpans takes when nothing records spans give what the plain API calls
would: the same span context, random draws, current context and traceresponse text."""

import random

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from slipway.observability import configure_tracing
from slipway.observability.tracing import (
    _FAST_SPAN_CONTEXT,
    _SAMPLED,
    ServerSpans,
    _local_span_context,
)

SCOPE = {"type": "http", "method": "GET", "path": "/items/1", "headers": []}


def test_span_contexts_built_directly_equal_the_constructors() -> None:
    assert _FAST_SPAN_CONTEXT  # else the shortcut is off and this test guards nothing
    for flags in (TraceFlags(TraceFlags.SAMPLED), TraceFlags(TraceFlags.DEFAULT)):
        for trace_id, span_id in [
            (1, 1),
            (2**128 - 1, 2**64 - 1),
            (random.getrandbits(128) or 1, 7),
        ]:
            made = _local_span_context(trace_id, span_id, flags)
            expected = SpanContext(trace_id, span_id, is_remote=False, trace_flags=flags)
            assert type(made) is SpanContext
            assert made == expected
            assert made.is_valid
            assert not made.is_remote
            assert made.trace_state == expected.trace_state
            assert made.trace_flags == expected.trace_flags


def test_ids_are_the_random_id_generators_draws() -> None:
    provider = configure_tracing(
        service="s", version="1", environment="test", otlp_endpoint=None, set_global=False
    )
    assert type(provider.id_generator) is RandomIdGenerator
    spans = ServerSpans(provider)
    generator = RandomIdGenerator()

    random.seed(1234)
    expected = [(generator.generate_trace_id(), generator.generate_span_id()) for _ in range(50)]
    random.seed(1234)
    made = []
    for _ in range(50):
        span, token = spans.start(SCOPE)
        context = span.get_span_context()
        made.append((context.trace_id, context.span_id))
        spans.finish(span, token, SCOPE, "/items/{item_id}", 200, False)

    assert made == expected
    provider.shutdown()


def test_the_current_context_is_what_set_span_in_context_builds() -> None:
    provider = configure_tracing(
        service="s", version="1", environment="test", otlp_endpoint=None, set_global=False
    )
    spans = ServerSpans(provider)
    span, token = spans.start(SCOPE)
    try:
        current = trace.set_span_in_context(span, Context())
        assert otel_context.get_current() == current
        assert type(otel_context.get_current()) is Context
        assert trace.get_current_span() is span
        assert type(span) is NonRecordingSpan
    finally:
        spans.finish(span, token, SCOPE, "/items/{item_id}", 200, False)
    assert trace.get_current_span() is trace.INVALID_SPAN
    provider.shutdown()


def test_traceresponse_text_is_the_w3c_format() -> None:
    spans = ServerSpans(trace.NoOpTracerProvider())
    for flags in (TraceFlags(TraceFlags.DEFAULT), _SAMPLED, TraceFlags(0x03)):
        for trace_id, span_id in [(1, 1), (2**128 - 1, 2**64 - 1), (0xABC << 64, 0xDEF)]:
            span = NonRecordingSpan(
                SpanContext(trace_id, span_id, is_remote=False, trace_flags=flags)
            )
            [(name, value)] = spans.response_headers(span)
            text = f"00-{trace_id:032x}-{span_id:016x}-{flags:02x}"
            assert (name, value) == (b"traceresponse", text.encode("ascii"))
