"""The time requests spend inside the service, from its access lines: parsing, percentiles,
the log window, the table, and a real service whose kept stdout holds one line per request."""

import json
import threading
import time
from pathlib import Path

import httpx
import pytest

from slipway_bench.contexts_bench import (
    Measurement,
    Rounds,
    dev_token,
    in_service_rows,
    parse_args,
)
from slipway_bench.latency_service import running_service, service_settings
from slipway_bench.overhead import free_port
from slipway_bench.server_times import (
    InService,
    LogWindow,
    access_durations,
    format_table,
    percentile,
    settled_size,
)
from slipway_bench.wrk import WrkResult


def access_line(duration_ms: object, logger: str = "slipway.access") -> str:
    return json.dumps(
        {"timestamp": "2026-12-03T21:43:30Z", "logger": logger, "duration_ms": duration_ms},
        separators=(",", ":"),
    )


def test_only_access_lines_with_a_numeric_duration_count() -> None:
    text = "\n".join(
        [
            access_line(10.5),
            access_line(3),
            access_line(7.0, logger="uvicorn.error"),  # another logger
            access_line("12"),  # not a number
            access_line(True),  # a bool is no duration
            '{"logger":"slipway.access","duration_ms":4',  # cut off by the window's end
            "not json",
            json.dumps(["logger", "slipway.access"]),
            access_line(0.25),
        ]
    )
    assert access_durations(text) == [10.5, 3.0, 0.25]


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([1.0, 2.0, 3.0], 0.9) == 3.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)
    with pytest.raises(ValueError, match="share must be in"):
        percentile(values, 0.0)


def test_in_service_figures_and_pooling() -> None:
    fast = InService(tuple(float(v) for v in range(1, 100)))  # 1 .. 99 ms
    slow = InService((500.0,))
    pooled = InService.pooled([fast, slow])
    assert pooled.lines == 100
    assert (pooled.p50_ms, pooled.p99_ms, pooled.max_ms) == (50.0, 99.0, 500.0)
    assert pooled.as_dict() == {
        "lines": 100,
        "p50_ms": 50.0,
        "p90_ms": 90.0,
        "p99_ms": 99.0,
        "max_ms": 500.0,
        "mean_ms": 54.5,
    }
    empty = InService(())
    assert (empty.p50_ms, empty.p99_ms, empty.max_ms) == (None, None, None)
    assert empty.as_dict() == {"lines": 0}


def test_window_reads_only_what_was_written_after_it_opened(tmp_path: Path) -> None:
    log = tmp_path / "contexts.stdout.log"
    log.write_text(access_line(900.0) + "\n", encoding="utf-8")  # an earlier run's line
    window = LogWindow.start(log)
    with log.open("a", encoding="utf-8") as out:
        out.write(access_line(2.0) + "\n" + access_line(4.0) + "\n")
    assert window.finish().durations_ms == (2.0, 4.0)


def test_settling_waits_for_late_lines(tmp_path: Path) -> None:
    log = tmp_path / "late.log"
    log.write_bytes(b"")

    def write_late() -> None:
        for _ in range(3):
            time.sleep(0.02)  # shorter than a poll: the file keeps growing for a while
            with log.open("ab") as out:
                out.write(b"x" * 10)

    writer = threading.Thread(target=write_late)
    writer.start()
    size = settled_size(log)
    writer.join()
    assert size == log.stat().st_size == 30


def wrk(p50: float, p99: float) -> WrkResult:
    zero = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    return WrkResult(
        requests=800, duration_s=8.0, p50_ms=p50, p90_ms=p50, p99_ms=p99, max_ms=p99, errors=zero
    )


def test_rounds_pool_their_lines_and_the_table_sets_them_beside_wrk() -> None:
    runs = (
        Measurement(wrk(30.0, 50.0), 1.0, 1, in_service=InService((20.0, 22.0))),
        Measurement(wrk(32.0, 60.0), 1.0, 1, in_service=InService((24.0, 400.0))),
    )
    results = {("LIST", "contexts"): Rounds(runs), ("LIST", "limit"): Rounds(runs)}
    rows = in_service_rows(results)
    assert [(op, times.lines, p50, p99) for op, times, p50, p99 in rows] == [
        ("LIST", 4, 31.0, 55.0)
    ]
    table = format_table(rows).splitlines()
    assert table[1].split() == [
        "op",
        "lines",
        "svc",
        "p50",
        "svc",
        "p99",
        "svc",
        "max",
        "wrk",
        "p50",
        "wrk",
        "p99",
        "outside",
        "p50",
    ]
    # in service: p50 22 (nearest rank of 4), p99 and max 400; outside p50 = 31 - 22
    assert table[2].split() == ["LIST", "4", "22.00", "400.00", "400.00", "31.00", "55.00", "9.00"]
    report = Rounds(runs).as_dict()
    assert report["in_service"]["lines"] == 4
    assert report["per_round"][1]["in_service"]["max_ms"] == 400.0
    # a run without lines: no in-service figures for its rounds, no row
    without = Rounds((runs[0], Measurement(wrk(30.0, 50.0), 1.0, 1)))
    assert without.in_service is None
    assert "in_service" not in without.as_dict()
    assert in_service_rows({("LIST", "contexts"): without}) == []


def test_server_times_is_off_unless_asked_for() -> None:
    assert parse_args([]).server_times is False
    assert parse_args(["--server-times"]).server_times is True


@pytest.mark.slow
def test_a_real_service_writes_one_access_line_per_request_into_the_kept_stdout(
    tmp_path: Path,
) -> None:
    """The contexts service on its embedded SQLite, its stdout kept: the window after a warm-up
    holds exactly the measured requests' lines, each with the time it spent inside."""
    stdout = tmp_path / "contexts.stdout.log"
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'contexts.db'}"
    settings = service_settings(free_port(), database_url, None, None)
    headers = {"authorization": f"Bearer {dev_token()}"}
    with (
        running_service(settings, tmp_path, cpu=None, stdout=stdout) as service,
        httpx.Client(base_url=service.base_url, headers=headers, timeout=10.0) as client,
    ):
        created = client.put(
            "/v1/contexts/svc/c0",
            json={"kind": "document", "body": {"content": "x", "format": "markdown"}},
        )
        assert created.status_code == 201, created.text
        window = LogWindow.start(stdout)
        statuses = [client.get("/v1/contexts/svc?limit=50").status_code for _ in range(5)]
        times = window.finish()
    assert statuses == [200] * 5
    assert times.lines == 5
    assert all(0 < duration < 10_000 for duration in times.durations_ms)
