"""Reading wrk's output: the done() script's JSON line among wrk's own report; and what the
wrk benchmarks' mains share (finding wrk, `--sizes`, writing their outputs)."""

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from slipway_bench import contexts_bench, contexts_scale, search_bench
from slipway_bench.wrk import (
    DONE_SCRIPT,
    RESULT_MARKER,
    WRK_MISSING,
    WrkOutputError,
    parse_sizes,
    parse_wrk_output,
    render_script,
    resolve_wrk,
    write_done_script,
    write_outputs,
    write_script,
    wrk_command,
)

WRK_STDOUT = """Running 10s test @ http://127.0.0.1:8101/items/42
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.21ms  612.00us  11.49ms   91.02%
    Req/Sec    11.95k   410.00    12.40k    88.00%
  118932 requests in 10.01s, 24.28MB read
Requests/sec:  11881.32
Transfer/sec:      2.43MB
SLIPWAY_BENCH_RESULT {"requests":118932,"duration_us":10010000,"bytes":25459200,\
"errors":{"connect":0,"read":0,"write":0,"status":3,"timeout":1},\
"latency_us":{"p50":4150,"p90":4700,"p99":8810,"max":11487,"mean":4210.5}}
"""


def test_result_line_is_parsed() -> None:
    result = parse_wrk_output(WRK_STDOUT)
    assert result.requests == 118932
    assert result.duration_s == pytest.approx(10.01)
    assert result.requests_per_second == pytest.approx(11881.3, abs=0.1)
    assert (result.p50_ms, result.p90_ms, result.p99_ms) == (4.15, 4.7, 8.81)
    assert result.max_ms == pytest.approx(11.487)
    assert result.errors["status"] == 3
    assert result.error_count == 4


def test_missing_result_line_is_an_error() -> None:
    before_the_marker = WRK_STDOUT.split(RESULT_MARKER)[0]
    with pytest.raises(WrkOutputError, match="no result line"):
        parse_wrk_output(before_the_marker)


@pytest.mark.parametrize(
    "line",
    [
        RESULT_MARKER + "{not json",
        RESULT_MARKER + '{"requests": 1}',
        RESULT_MARKER + '{"requests":1,"duration_us":1,"errors":{},"latency_us":null}',
    ],
)
def test_unreadable_result_line_is_an_error(line: str) -> None:
    with pytest.raises(WrkOutputError, match="unreadable"):
        parse_wrk_output(line)


def test_done_script_prints_the_marker_and_every_field() -> None:
    assert RESULT_MARKER in DONE_SCRIPT
    for field in ("summary.requests", "percentile(50)", "percentile(99)", "e.status"):
        assert field in DONE_SCRIPT


def test_command_has_the_run_settings() -> None:
    command = wrk_command(
        "/usr/bin/wrk",
        "http://127.0.0.1:1/x",
        script=Path("lua/done.lua"),
        duration_s=7,
        connections=32,
    )
    assert command[0] == "/usr/bin/wrk"
    assert command[-1] == "http://127.0.0.1:1/x"
    assert {"--threads=1", "--connections=32", "--duration=7s", "--script=lua/done.lua"} <= set(
        command
    )


def test_rendered_script_fills_every_placeholder_and_ends_with_done() -> None:
    script = render_script('local a = "@A@"\nlocal b = "@B@@A@"\n', {"A": "x", "B": "y"})
    assert script == 'local a = "x"\nlocal b = "yx"\n' + DONE_SCRIPT


def test_scripts_are_written_under_their_stem(tmp_path: Path) -> None:
    path = write_script(tmp_path, "slipway_x", "-- lua\n")
    assert (path, path.read_text(encoding="utf-8")) == (tmp_path / "slipway_x.lua", "-- lua\n")
    assert write_done_script(tmp_path).read_text(encoding="utf-8") == DONE_SCRIPT


def test_wrk_is_resolved_to_its_path_or_refused(capsys: pytest.CaptureFixture[str]) -> None:
    found = argparse.Namespace(wrk=Path(sys.executable).name)
    assert resolve_wrk(found)
    assert Path(found.wrk).is_absolute()
    missing = argparse.Namespace(wrk="slipway-no-such-wrk")
    assert not resolve_wrk(missing)
    assert missing.wrk == "slipway-no-such-wrk"
    assert capsys.readouterr().err == WRK_MISSING + "\n"


@pytest.mark.parametrize(
    "main",
    [contexts_bench.main, contexts_scale.main, search_bench.main],
    ids=lambda m: m.__module__,
)
def test_every_wrk_benchmark_stops_with_2_without_wrk(
    main: Callable[[Sequence[str] | None], int], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--wrk", "slipway-no-such-wrk"]) == 2
    assert capsys.readouterr().err == WRK_MISSING + "\n"


@pytest.mark.parametrize(
    ("text", "least", "sizes"), [("1,10", 1, [1, 10]), ("2", 2, [2]), ("9999999", 1, [9999999])]
)
def test_sizes_ascend_from_the_least_below_ten_million(
    text: str, least: int, sizes: list[int]
) -> None:
    assert parse_sizes(argparse.ArgumentParser(), text, least=least) == sizes


@pytest.mark.parametrize(
    ("text", "least", "message"),
    [
        ("1,x", 1, "--sizes: comma-separated integers"),
        ("10,1", 1, "--sizes: ascending, distinct, from 1 to 9 999 999"),
        ("5,5", 1, "--sizes: ascending, distinct, from 1 to 9 999 999"),
        ("1", 2, "--sizes: ascending, distinct, from 2 to 9 999 999"),
        ("10000000", 1, "--sizes: ascending, distinct, from 1 to 9 999 999"),
    ],
)
def test_other_sizes_end_the_program(
    text: str, least: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_sizes(argparse.ArgumentParser(prog="bench"), text, least=least)
    assert exited.value.code == 2
    assert capsys.readouterr().err.endswith(f"bench: error: {message}\n")


def test_outputs_are_written_into_new_folders_and_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    json_out, plans = tmp_path / "a" / "b.json", tmp_path / "c" / "d" / "e.md"
    write_outputs([(json_out, "{}\n"), (plans, "# plans\n")])
    assert json_out.read_text(encoding="utf-8") == "{}\n"
    assert plans.read_text(encoding="utf-8") == "# plans\n"
    assert capsys.readouterr().out == f"written: {json_out}\nwritten: {plans}\n"
