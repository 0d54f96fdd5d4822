import io
import json
import logging
from datetime import UTC, datetime, timedelta

from opentelemetry.sdk.trace import TracerProvider

from slipway.logging import configure_logging, get_logger
from slipway.logging.tests.conftest import LogLines

LEADING_FIELDS = [
    "timestamp",
    "level",
    "logger",
    "event",
    "service",
    "version",
    "environment",
    "request_id",
    "trace_id",
    "span_id",
]


def test_structlog_event_is_one_json_line_with_standard_fields(json_lines: LogLines) -> None:
    get_logger("ledger.accounts").info("account opened", account=42, tags=["new"])

    [line] = json_lines()
    assert list(line) == [*LEADING_FIELDS, "account", "tags"]
    assert line["level"] == "info"
    assert line["logger"] == "ledger.accounts"
    assert line["event"] == "account opened"
    assert (line["service"], line["version"], line["environment"]) == ("ledger", "2.3.4", "test")
    assert (line["request_id"], line["trace_id"], line["span_id"]) == (None, None, None)
    assert (line["account"], line["tags"]) == (42, ["new"])


def test_timestamp_is_iso8601_utc_and_current(json_lines: LogLines) -> None:
    before = datetime.now(UTC)
    get_logger("t").info("tick")
    after = datetime.now(UTC)

    timestamp = json_lines()[0]["timestamp"]
    assert timestamp.endswith("Z")
    parsed = datetime.fromisoformat(timestamp)
    assert parsed.tzinfo is not None
    assert parsed.utcoffset() == timedelta(0)
    assert before.replace(microsecond=0) <= parsed <= after


def test_stdlib_records_share_the_pipeline(json_lines: LogLines) -> None:
    logging.getLogger("sqlalchemy.engine").warning("slow query %s ms", 812, extra={"table": "t"})

    [line] = json_lines()
    assert line["logger"] == "sqlalchemy.engine"
    assert line["level"] == "warning"
    assert line["event"] == "slow query 812 ms"
    assert line["service"] == "ledger"
    assert line["table"] == "t"


def test_exceptions_stay_on_one_line(json_lines: LogLines) -> None:
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        get_logger("t").exception("failed", attempt=3)

    [line] = json_lines()
    assert line["level"] == "error"
    assert "ValueError: bad" in line["exception"]
    assert line["attempt"] == 3


def test_level_filters_structlog_and_stdlib() -> None:
    buffer = io.StringIO()
    configure_logging(service="s", version="1", environment="test", level="warning", stream=buffer)

    get_logger("t").info("hidden")
    logging.getLogger("x").info("hidden too")
    get_logger("t").warning("shown")

    assert [json.loads(line)["event"] for line in buffer.getvalue().splitlines()] == ["shown"]


def test_configure_logging_is_idempotent() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(service="s", version="1", environment="test", stream=first)
    configure_logging(service="s", version="2", environment="test", stream=second)

    get_logger("t").info("once")

    assert first.getvalue() == ""
    [line] = second.getvalue().splitlines()
    assert json.loads(line)["version"] == "2"
    assert len(logging.getLogger().handlers) == 1


def test_current_span_ids_are_added(json_lines: LogLines) -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        get_logger("t").info("inside span")
        context = span.get_span_context()

    [line] = json_lines()
    assert line["trace_id"] == format(context.trace_id, "032x")
    assert line["span_id"] == format(context.span_id, "016x")


def test_unserialisable_values_do_not_break_logging(json_lines: LogLines) -> None:
    get_logger("t").info("odd values", obj=object(), big=2**70, raw=b"\xffbytes", ids={1})

    [line] = json_lines()
    assert line["raw"] == "\ufffdbytes"
    assert line["big"] == 2**70
    assert line["obj"].startswith("<object object")


def test_even_unencodable_events_become_a_json_line(json_lines: LogLines) -> None:
    circular: list[object] = []
    circular.append(circular)

    get_logger("t").info("circular", value=circular)

    [line] = json_lines()
    assert line["event"] == "circular"
    assert "[TOO DEEP]" in json.dumps(line["value"])


def test_events_no_encoder_accepts_still_become_a_json_line(json_lines: LogLines) -> None:
    get_logger("t").info("tuple keys", value={(1, 2): "pair"})

    [line] = json_lines()
    assert line["event"] == "'tuple keys'"
    assert "TypeError" in line["render_error"]
