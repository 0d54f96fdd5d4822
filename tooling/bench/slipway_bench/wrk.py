"""Drive wrk and read its results: a Lua `done()` hook prints them as one JSON line.

Also what the mains of the wrk benchmarks share: finding wrk (`resolve_wrk`), their
`--sizes` (`parse_sizes`) and writing their output files (`write_outputs`).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULT_MARKER = "SLIPWAY_BENCH_RESULT "

# wrk calls done() once at the end with its summary and latency histogram (microseconds).
DONE_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"bytes":%d,'
    .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
    .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\\n',
    "MARKER", summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
""".replace("MARKER", RESULT_MARKER)


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: throughput, latency percentiles (ms) and error counts."""

    requests: int
    duration_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int]

    @property
    def requests_per_second(self) -> float:
        """Completed requests per second of the run."""
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def error_count(self) -> int:
        """Connect, read, write, timeout errors and non-2xx/3xx answers, together."""
        return sum(self.errors.values())

    def as_dict(self) -> dict[str, Any]:
        """The run as a JSON-ready dict."""
        return {
            "requests": self.requests,
            "duration_s": round(self.duration_s, 3),
            "requests_per_second": round(self.requests_per_second, 1),
            "p50_ms": self.p50_ms,
            "p90_ms": self.p90_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ms,
            "errors": self.errors,
        }


class WrkOutputError(ValueError):
    """wrk's output has no (valid) result line from the done() script."""


def parse_wrk_output(stdout: str) -> WrkResult:
    """The result line the done() script printed, among wrk's usual output."""
    for line in stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            try:
                data = json.loads(line.removeprefix(RESULT_MARKER))
                latency = data["latency_us"]
                return WrkResult(
                    requests=int(data["requests"]),
                    duration_s=int(data["duration_us"]) / 1_000_000,
                    p50_ms=latency["p50"] / 1000,
                    p90_ms=latency["p90"] / 1000,
                    p99_ms=latency["p99"] / 1000,
                    max_ms=latency["max"] / 1000,
                    errors={name: int(count) for name, count in data["errors"].items()},
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise WrkOutputError(f"unreadable wrk result line: {line!r}") from exc
    raise WrkOutputError("wrk printed no result line; is the done() script loaded?")


def render_script(template: str, values: Mapping[str, str]) -> str:
    """`template` with each `@NAME@` replaced by `values[NAME]`, then the done() hook."""
    for placeholder, value in values.items():
        template = template.replace(f"@{placeholder}@", value)
    return template + DONE_SCRIPT


def write_script(directory: Path, stem: str, source: str) -> Path:
    """Write the Lua `source` as `directory/<stem>.lua`; its path, for `wrk --script`."""
    path = directory / f"{stem}.lua"
    path.write_text(source, encoding="utf-8")
    return path


def write_done_script(directory: Path) -> Path:
    """Write the Lua done() hook into `directory`; its path, for `wrk --script`."""
    return write_script(directory, "slipway_bench_done", DONE_SCRIPT)


def wrk_command(
    wrk: str, url: str, *, script: Path, duration_s: int, connections: int, threads: int = 1
) -> list[str]:
    """The wrk argv for one run."""
    return [
        wrk,
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={duration_s}s",
        "--timeout=5s",
        f"--script={script}",
        url,
    ]


def wrk_output(command: list[str], *, cpu: int | None) -> str:
    """Run wrk (pinned to `cpu` when given); what it printed (a script's done() lines too)."""
    completed = subprocess.run(  # noqa: S603 - argv built by wrk_command, no shell
        command,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=None if cpu is None else lambda: _pin(cpu),
    )
    if completed.returncode != 0:
        raise WrkOutputError(f"wrk exited {completed.returncode}: {completed.stderr.strip()}")
    return completed.stdout


def run_wrk(command: list[str], *, cpu: int | None) -> WrkResult:
    """Run wrk (pinned to `cpu` when given) and parse its result."""
    return parse_wrk_output(wrk_output(command, cpu=cpu))


def _pin(cpu: int) -> None:
    os.sched_setaffinity(0, {cpu})


WRK_MISSING = "wrk not found: install it with `apt-get install wrk`"
# Sizes name contexts with seven digits (`c0000000` ..).
SIZES_BELOW = 10**7


def resolve_wrk(args: argparse.Namespace) -> bool:
    """Set `args.wrk` to wrk's path; False, after saying how to install it, if it is not found."""
    wrk = shutil.which(args.wrk)
    if wrk is None:
        print(WRK_MISSING, file=sys.stderr)
        return False
    args.wrk = wrk
    return True


def parse_sizes(parser: argparse.ArgumentParser, text: str, *, least: int) -> list[int]:
    """`--sizes` as integers: comma-separated, ascending, distinct, from `least` to 9 999 999.

    Anything else ends the program through `parser.error` (exit status 2).
    """
    try:
        sizes = [int(size) for size in text.split(",")]
    except ValueError:
        parser.error("--sizes: comma-separated integers")
    if sizes != sorted(set(sizes)) or sizes[0] < least or sizes[-1] >= SIZES_BELOW:
        parser.error(f"--sizes: ascending, distinct, from {least} to 9 999 999")
    return sizes


def write_outputs(outputs: Iterable[tuple[Path, str]]) -> None:
    """Write each text to its path (creating its folder), saying `written: <path>` for each."""
    for path, text in outputs:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"written: {path}")
