"""The latency benchmark's parsing: SSE framing, event latencies, the wrk script, settings."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel
from pydantic_settings import BaseSettings, SettingsConfigDict

from contexts.settings import Settings
from slipway_bench.events_subscribers import EventShapeError, SubscriberRecord, event_latency_ms
from slipway_bench.latency_service import (
    SettingMissingError,
    environment_for,
    has_setting,
    service_settings,
    setting_default,
)
from slipway_bench.sse_reader import ServerSentEvent, ServerSentEventDecoder
from slipway_bench.write_load import STATUS_MARKER, pacing_script, parse_status_counts
from slipway_bench.wrk import RESULT_MARKER

STREAM = (
    b": stream open\r\nretry: 3000\r\n\r\n"
    b'id: 1-0\r\nevent: context.changed\r\ndata: {"a": 1}\r\n\r\n'
    b": ping - 2026-12-01 14:00:00\r\n\r\n"
    b'id: 2-0\r\nevent: context.changed\r\ndata: {"a": 2}\r\n\r\n'
)
EXPECTED = [
    ServerSentEvent(event="context.changed", data='{"a": 1}', id="1-0"),
    ServerSentEvent(event="context.changed", data='{"a": 2}', id="2-0"),
]


def test_events_are_decoded_and_comments_and_retry_skipped() -> None:
    assert ServerSentEventDecoder().feed(STREAM) == EXPECTED


@pytest.mark.parametrize("size", [1, 2, 3, 7, 50])
def test_events_split_anywhere_across_chunks_decode_the_same(size: int) -> None:
    decoder = ServerSentEventDecoder()
    events = []
    for start in range(0, len(STREAM), size):
        events.extend(decoder.feed(STREAM[start : start + size]))
    assert events == EXPECTED


def test_an_event_is_dispatched_only_at_its_blank_line() -> None:
    decoder = ServerSentEventDecoder()
    assert decoder.feed(b"event: context.changed\ndata: x\n") == []
    assert decoder.feed(b"\n") == [ServerSentEvent(event="context.changed", data="x", id=None)]


def test_lf_cr_and_multi_line_data_follow_the_standard() -> None:
    events = ServerSentEventDecoder().feed(b"data: one\rdata:two\n\nevent: e\n\n: c\n\ndata\n\n")
    assert events == [
        ServerSentEvent(event="message", data="one\ntwo", id=None),
        ServerSentEvent(event="message", data="", id=None),
    ]


def test_a_utf8_character_split_across_chunks_survives() -> None:
    encoded = "data: café\n\n".encode()
    decoder = ServerSentEventDecoder()
    first = decoder.feed(encoded[:10])  # ends inside the two bytes of "é"
    assert first + decoder.feed(encoded[10:]) == [
        ServerSentEvent(event="message", data="café", id=None)
    ]


def _event(occurred_at: str, event_id: str = "e1") -> ServerSentEvent:
    data = {"event_id": event_id, "occurred_at": occurred_at, "version": 3}
    return ServerSentEvent(event="context.changed", data=json.dumps(data), id="1-0")


def test_latency_is_arrival_minus_occurred_at() -> None:
    occurred = datetime(2026, 12, 1, 14, 0, 0, tzinfo=UTC)
    received = (occurred + timedelta(milliseconds=42.5)).timestamp()
    event_id, latency = event_latency_ms(_event("2026-12-01T14:00:00Z"), received)
    assert event_id == "e1"
    assert latency == pytest.approx(42.5, abs=0.01)


def test_an_offset_timestamp_is_converted_not_misread() -> None:
    occurred = datetime(2026, 12, 1, 14, 0, 0, tzinfo=UTC)
    _, latency = event_latency_ms(_event("2026-12-01T15:00:00.010+01:00"), occurred.timestamp())
    assert latency == pytest.approx(-10.0, abs=0.01)


@pytest.mark.parametrize(
    "data",
    ["not json", '{"event_id": "e1"}', '{"event_id": "e1", "occurred_at": "2026-12-01T14:00:00"}'],
)
def test_events_without_a_zoned_occurred_at_are_refused(data: str) -> None:
    with pytest.raises(EventShapeError):
        event_latency_ms(ServerSentEvent(event="context.changed", data=data, id=None), 0.0)


def test_subscriber_record_reports_unique_events() -> None:
    record = SubscriberRecord(latencies_ms=[1.23456], event_ids={"a"}, duplicates=2)
    assert record.as_dict() == {
        "events": 1,
        "duplicates": 2,
        "error": None,
        "latencies_ms": [1.235],
    }


def test_pacing_script_carries_the_rate_target_and_the_done_hook() -> None:
    bearer = "a.b-c_d"
    script = pacing_script(
        rate=100, namespace="latency-1", token=bearer, group="readers", nonce="ab12"
    )
    assert "@" not in script  # every placeholder substituted
    assert "local interval_ms = 1000 / 100.0" in script
    assert '"/v1/contexts/latency-1/c%d", sent % 64' in script
    assert f'"Bearer {bearer}"' in script
    assert '"group:readers"' in script
    assert "of run ab12" in script
    assert RESULT_MARKER in script
    assert STATUS_MARKER in script


@pytest.mark.parametrize(
    "options",
    [
        {"namespace": 'x"; os.exit() --'},
        {"token": "a b"},
        {"rate": 0.0},
        {"contexts": 0},
    ],
)
def test_pacing_script_refuses_what_lua_cannot_carry(options: dict[str, object]) -> None:
    arguments: dict[str, object] = {
        "rate": 100.0,
        "namespace": "ns",
        "token": "t",
        "group": "g",
        "nonce": "n",
        **options,
    }
    with pytest.raises(ValueError, match=r"cannot carry|must be"):
        pacing_script(**arguments)  # type: ignore[arg-type]


class _Inner(BaseModel):
    stream_prefix: str = "events:"


class _Redis(BaseModel):
    url: str = "redis://"


class _Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SVC_", env_nested_delimiter="__")

    events: _Inner = _Inner()
    redis: _Redis | None = None
    port: int = 1


def test_nested_and_optional_settings_become_variables() -> None:
    env = environment_for(
        _Settings, {("events", "stream_prefix"): "p:", ("redis", "url"): "r", ("port",): "2"}
    )
    assert env == {"SVC_EVENTS__STREAM_PREFIX": "p:", "SVC_REDIS__URL": "r", "SVC_PORT": "2"}
    assert setting_default(_Settings, "events", "stream_prefix") == "events:"


def test_an_unknown_setting_is_refused_by_name() -> None:
    assert not has_setting(_Settings, "events", "prefix")
    assert not has_setting(_Settings, "port", "value")
    with pytest.raises(SettingMissingError, match=r"events\.prefix"):
        environment_for(_Settings, {("events", "prefix"): "p:"})


def test_the_settings_the_benchmark_needs_exist_in_the_contexts_service() -> None:
    required = service_settings(8000, "sqlite+aiosqlite:///x.db", "redis://127.0.0.1", None)
    env = environment_for(Settings, required)
    assert env["CONTEXTS_DATABASE__URL"] == "sqlite+aiosqlite:///x.db"
    assert env["CONTEXTS_WEB__RATE_LIMIT__REQUESTS"] == "1000000000"


def test_status_counts_are_read_from_the_scripts_line() -> None:
    stdout = f'Running 20s test\n{STATUS_MARKER}{{"201":256,"200":1744,"409":1}}\n'
    assert parse_status_counts(stdout) == {201: 256, 200: 1744, 409: 1}


@pytest.mark.parametrize("stdout", ["no line at all\n", f"{STATUS_MARKER}[1, 2]\n"])
def test_a_missing_or_unreadable_status_line_is_an_error(stdout: str) -> None:
    with pytest.raises(ValueError, match="status line"):
        parse_status_counts(stdout)
