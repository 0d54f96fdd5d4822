"""Rounds, workers and the process tree of the contexts benchmark (no database, no wrk)."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from slipway_bench.contexts_bench import (
    Measurement,
    Rounds,
    format_table,
    goal_lines,
    parse_args,
    ratios,
    report,
)
from slipway_bench.procfs import (
    child_pids,
    pin_tree,
    process_cpu_seconds,
    process_tree,
    tree_cpu_seconds,
    tree_rss_bytes,
)
from slipway_bench.profile import Breakdown
from slipway_bench.wrk import WrkResult


def run(rps: float, p99: float, cpu_us: float, errors: int = 0, rss_mib: int = 100) -> Measurement:
    """One 8 s run at these figures (p50 = p99 / 4)."""
    result = WrkResult(
        requests=int(rps * 8),
        duration_s=8.0,
        p50_ms=p99 / 4,
        p90_ms=p99 / 2,
        p99_ms=p99,
        max_ms=p99,
        errors={"connect": 0, "read": 0, "write": 0, "status": errors, "timeout": 0},
    )
    return Measurement(
        wrk=result, server_cpu_s=cpu_us * result.requests / 1e6, rss_bytes=rss_mib * 1024 * 1024
    )


def test_rounds_report_the_median_of_each_figure_and_every_error() -> None:
    rounds = Rounds(
        (run(500, 80.0, 1600.0), run(700, 40.0, 1300.0, errors=2), run(600, 60.0, 1400.0))
    )
    assert rounds.requests_per_second == 600
    assert rounds.p99_ms == 60.0
    assert rounds.p50_ms == 15.0
    assert rounds.cpu_us_per_request == pytest.approx(1400.0)
    assert rounds.error_count == 2  # no round's errors are hidden by the median
    assert rounds.rss_bytes == 100 * 1024 * 1024
    pooled = (500 * 1600 + 700 * 1300 + 600 * 1400) / (500 + 700 + 600)
    assert rounds.pooled_cpu_us_per_request == pytest.approx(pooled)
    as_json = rounds.as_dict()
    assert as_json["rounds"] == 3
    assert as_json["requests_per_second"] == 600.0
    assert as_json["range"]["requests_per_second"] == [500.0, 700.0]
    assert as_json["range"]["p99_ms"] == [40.0, 80.0]
    assert len(as_json["per_round"]) == 3
    with pytest.raises(ValueError, match="no runs"):
        Rounds(())


def test_one_round_keeps_the_measurement_json() -> None:
    single = run(600, 60.0, 1500.0)
    assert Rounds((single,)).as_dict() == {**single.as_dict(), "rounds": 1}


def test_table_goals_and_ratios_read_the_medians() -> None:
    limit = Rounds((run(5000, 20.0, 200.0), run(6000, 30.0, 180.0), run(7000, 40.0, 160.0)))
    contexts = Rounds((run(3000, 40.0, 330.0), run(3600, 50.0, 300.0), run(4200, 90.0, 270.0)))
    results = {("GET", "contexts"): contexts, ("GET", "limit"): limit}
    assert ratios(contexts, limit)["throughput"] == 0.6
    assert ratios(contexts, limit)["p99"] == pytest.approx(50.0 / 30.0, abs=1e-3)
    assert goal_lines(results)[0].endswith("MET")
    row = format_table(results).splitlines()[1].split()
    assert row[:3] == ["GET", "contexts", "3600"]
    assert row[-3:] == ["0.600x", "1.67x", "1.67x"]


def test_arguments_for_workers_rounds_cores_and_profile() -> None:
    args = parse_args([])
    assert (args.workers, args.rounds, args.profile, args.profile_rate) == (1, 1, None, 250)
    assert args.server_cpus == [0]  # --server-cpu's core
    args = parse_args(["--workers", "2", "--server-cpus", "2,0", "--rounds", "3", "--profile", "p"])
    assert (args.workers, args.server_cpus, args.rounds, args.profile) == (2, [0, 2], 3, Path("p"))
    for bad in (
        ["--workers", "0"],
        ["--rounds", "0"],
        ["--server-cpus", "a"],
        ["--server-cpus", ""],
    ):
        with pytest.raises(SystemExit):
            parse_args(bad)


def test_report_carries_the_profile_and_the_settings(tmp_path: Path) -> None:
    args = parse_args(["--profile", str(tmp_path), "--rounds", "2"])
    results = {("GET", "contexts"): Rounds((run(600, 60.0, 1500.0), run(700, 50.0, 1400.0)))}
    profiles = {"GET": {"contexts": Breakdown({"asyncpg": 3, "other": 1}, 1000.0)}}
    out = report(args, results, None, pinning="p", profiles=profiles)
    assert out["settings"]["rounds"] == 2
    assert out["settings"]["workers_per_app"] == 1
    entry = out["profile"]["GET"]["contexts"]
    assert entry["categories"]["asyncpg"]["us_per_request"] == 750.0
    assert entry["collapsed"] == str(tmp_path / "get-contexts.collapsed.txt")
    assert report(args, results, None, pinning="p")["profile"] is None


@pytest.fixture
def parent_with_child() -> Iterator[subprocess.Popen[bytes]]:
    """A Python process that starts a busy child and waits for it."""
    code = (
        "import subprocess, sys;"
        "subprocess.run([sys.executable, '-c', 'import time\\nt = time.time()\\n"
        "while time.time() - t < 30: pass'])"
    )
    parent = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 20
        while not child_pids(parent.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        yield parent
    finally:
        for pid in reversed(process_tree(parent.pid)):
            os.kill(pid, 9)
        parent.wait()


def test_cpu_and_memory_are_summed_over_the_process_tree(
    parent_with_child: subprocess.Popen[bytes],
) -> None:
    tree = process_tree(parent_with_child.pid)
    assert len(tree) == 2
    assert tree[0] == parent_with_child.pid
    child = tree[1]
    deadline = time.monotonic() + 20  # the child spins: on a loaded machine, slowly
    while process_cpu_seconds(child) < 0.05 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process_cpu_seconds(child) >= 0.05
    assert tree_cpu_seconds(parent_with_child.pid) >= process_cpu_seconds(child)
    assert tree_rss_bytes(parent_with_child.pid) > 2 * 1024 * 1024
    assert process_tree(2**22 + 1) == []
    assert tree_cpu_seconds(2**22 + 1) == 0.0


def test_pinning_reaches_every_process_of_the_tree(
    parent_with_child: subprocess.Popen[bytes],
) -> None:
    cpu = min(os.sched_getaffinity(0))
    pin_tree(parent_with_child.pid, {cpu})
    for pid in process_tree(parent_with_child.pid):
        assert os.sched_getaffinity(pid) == {cpu}
