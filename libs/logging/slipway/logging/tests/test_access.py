import asyncio
import io
import json
import logging
import subprocess
import sys
import threading
from typing import Any

import pytest
import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from structlog.contextvars import bind_contextvars, merge_contextvars

from slipway.logging import REDACTED, configure_logging, get_logger
from slipway.logging.access import AccessLog, access_event
from slipway.logging.pipeline import PipelineHandler, pipeline_handler
from slipway.logging.request_id import bind_request_id, unbind_request_id

SCOPE: dict[str, Any] = {
    "type": "http",
    "http_version": "1.1",
    "method": "GET",
    "path": "/items/42",
    "root_path": "",
    "query_string": b"q=1&api_key=hunter2",
    "headers": [],
    "client": ("127.0.0.1", 50000),
}


class CountingStream(io.StringIO):
    """A stream that counts its flushes: one flush is one write syscall on a real stdout."""

    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


def _configure(stream: io.StringIO) -> PipelineHandler:
    configure_logging(service="ledger", version="2.3.4", environment="test", stream=stream)
    handler = pipeline_handler()
    assert handler is not None
    return handler


def _full_pipeline_line(handler: PipelineHandler) -> dict[str, Any]:
    """The access line as the pipeline's general processors render it."""
    before = handler.stream.getvalue()
    event = merge_contextvars(None, "info", access_event(SCOPE, 201, 1_234_567, "slipway.access"))
    handler.emit_event("info", event)
    parsed: dict[str, Any] = json.loads(handler.stream.getvalue()[len(before) :])
    return parsed


def _access_line(handler: PipelineHandler) -> dict[str, Any]:
    before = handler.stream.getvalue()
    AccessLog().write(SCOPE, 201, 1_234_567)
    parsed: dict[str, Any] = json.loads(handler.stream.getvalue()[len(before) :])
    return parsed


def _without_timestamp(line: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(key, value) for key, value in line.items() if key != "timestamp"]


@pytest.mark.parametrize("bound", [{}, {"tenant": "t-1", "api_key": "hunter2"}])
def test_access_line_equals_what_the_full_pipeline_renders(bound: dict[str, Any]) -> None:
    handler = _configure(io.StringIO())
    binding = bind_request_id("req-1")
    bind_contextvars(**bound)
    tracer = TracerProvider().get_tracer("t")
    try:
        with tracer.start_as_current_span("request"):
            fast, full = _access_line(handler), _full_pipeline_line(handler)
    finally:
        unbind_request_id(binding)
        structlog.contextvars.clear_contextvars()

    assert _without_timestamp(fast) == _without_timestamp(full)  # same fields, same order
    assert fast["request_id"] == "req-1"
    assert fast["trace_id"] is not None
    assert fast["path"] == f"/items/42?q=1&api_key={REDACTED}"
    if bound:
        assert fast["api_key"] == REDACTED
        assert fast["tenant"] == "t-1"


def test_access_line_outside_a_request_has_no_ids() -> None:
    handler = _configure(io.StringIO())
    assert trace.get_current_span().get_span_context().is_valid is False

    line = _access_line(handler)

    assert (line["request_id"], line["trace_id"], line["span_id"]) == (None, None, None)
    assert _without_timestamp(line) == _without_timestamp(_full_pipeline_line(handler))


def test_access_line_with_the_console_renderer_goes_through_its_processors() -> None:
    stream = io.StringIO()
    configure_logging(
        service="ledger", version="1", environment="dev", renderer="console", stream=stream
    )

    AccessLog().write(SCOPE, 200, 1_000)

    text = stream.getvalue()
    assert 'GET /items/42?q=1&api_key=[REDACTED] HTTP/1.1" 200' in text
    assert not text.startswith("{")


def test_access_lines_of_one_event_loop_tick_share_one_flush() -> None:
    stream = CountingStream()
    _configure(stream)
    access_log = AccessLog()

    async def three_requests_then_yield() -> tuple[int, int]:
        for _ in range(3):
            access_log.write(SCOPE, 200, 1_000)
        written_in_tick = stream.flushes
        await asyncio.sleep(0)
        return written_in_tick, stream.flushes

    in_tick, after_tick = asyncio.run(three_requests_then_yield())

    assert (in_tick, after_tick) == (0, 1)
    assert len(stream.getvalue().splitlines()) == 3


def test_access_line_outside_an_event_loop_is_flushed_at_once() -> None:
    stream = CountingStream()
    _configure(stream)

    AccessLog().write(SCOPE, 200, 1_000)

    assert stream.flushes == 1


def test_an_error_line_flushes_the_access_lines_before_it_in_order() -> None:
    stream = CountingStream()
    _configure(stream)

    async def request_then_error() -> int:
        AccessLog().write(SCOPE, 500, 1_000)
        get_logger("app").error("boom")
        return stream.flushes

    flushes_before_tick = asyncio.run(request_then_error())

    assert flushes_before_tick == 1
    events = [json.loads(line)["event"] for line in stream.getvalue().splitlines()]
    assert events[0].endswith('HTTP/1.1" 500')
    assert events[1] == "boom"


def test_handler_flush_writes_pending_access_lines() -> None:
    stream = CountingStream()
    handler = _configure(stream)

    async def request_then_flush() -> int:
        AccessLog().write(SCOPE, 200, 1_000)
        handler.flush()  # what logging.shutdown() does at exit
        return stream.flushes

    assert asyncio.run(request_then_flush()) == 1
    assert len(stream.getvalue().splitlines()) == 1


def test_a_closed_loop_with_a_pending_flush_does_not_stop_later_flushes() -> None:
    stream = CountingStream()
    _configure(stream)

    async def request() -> None:
        AccessLog().write(SCOPE, 200, 1_000)

    async def request_then_yield() -> None:
        await request()
        await asyncio.sleep(0)

    loop = asyncio.new_event_loop()
    loop.run_until_complete(request())
    loop.close()  # its flush callback is dropped
    flushes = stream.flushes
    asyncio.run(request_then_yield())

    assert stream.flushes == flushes + 1
    assert len(stream.getvalue().splitlines()) == 2


def test_no_access_line_is_lost_when_the_process_stops_normally() -> None:
    program = """
import asyncio, sys
from slipway.logging import configure_logging
from slipway.logging.access import AccessLog
configure_logging(service="s", version="1", environment="test", stream=sys.stdout)
scope = {"type": "http", "method": "GET", "path": "/p", "client": ("1.2.3.4", 5)}
async def requests():
    for status in (200, 201, 202):
        AccessLog().write(scope, status, 1000)
loop = asyncio.new_event_loop()
loop.run_until_complete(requests())
loop.close()
"""
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=60
    )

    statuses = [json.loads(line)["status_code"] for line in done.stdout.splitlines()]
    assert statuses == [200, 201, 202]


def test_access_log_without_the_pipeline_uses_a_stdlib_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, PipelineHandler)]
    with caplog.at_level(logging.INFO, logger="slipway.access"):
        AccessLog().write(SCOPE, 204, 1_000)

    [record] = caplog.records
    assert record.getMessage().endswith('HTTP/1.1" 204')
    assert record.__dict__["status_code"] == 204


class FailingStream(io.StringIO):
    """A stream whose writes fail, as a closed or full pipe's do."""

    def write(self, text: str) -> int:
        raise OSError("no space left")


def _lock_is_free(handler: PipelineHandler) -> bool:
    """Whether another thread can take the handler's lock (an RLock: this one always can)."""
    taken: list[bool] = []

    def take() -> None:
        lock = handler.lock
        assert lock is not None
        got = lock.acquire(timeout=0.1)  # a free lock is taken at once
        taken.append(got)
        if got:
            lock.release()

    thread = threading.Thread(target=take)
    thread.start()
    thread.join()
    return taken == [True]


def test_write_line_holds_the_handlers_lock_while_it_writes() -> None:
    seen: list[bool] = []

    class WatchingStream(io.StringIO):
        def write(self, text: str) -> int:
            seen.append(_lock_is_free(handler))
            return super().write(text)

    handler = _configure(WatchingStream())
    handler.write_line("{}")
    assert seen == [False]  # the flush outside an event loop writes nothing more
    assert _lock_is_free(handler)
    assert handler.stream.getvalue() == "{}\n"


def test_a_failing_write_releases_the_lock_and_goes_to_handle_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handler = _configure(FailingStream())
    errors: list[str] = []
    monkeypatch.setattr(handler, "handleError", lambda record: errors.append(record.getMessage()))

    handler.write_line('{"event":"x"}')

    assert errors == ['{"event":"x"}']
    assert _lock_is_free(handler)
