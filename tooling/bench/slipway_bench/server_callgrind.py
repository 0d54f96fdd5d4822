"""The whole server's instructions per request: each app's uvicorn process under callgrind.

`./pants run tooling/bench:overhead -- --server-callgrind` serves bare and platform (and
platform+otlp, when asked with `--kinds`) as the wrk benchmark does (`slipway_bench.server`,
pinned to the server core), but each inside valgrind's callgrind, and loads them with wrk
pinned to the load core. Instrumentation starts off (start-up and imports are not counted),
wrk warms the server up, then the counters are zeroed and switched on, wrk runs the measured
windows of D and 2D seconds, dumping (and zeroing) the counters after each. The difference of
the two windows' instructions over the difference of their requests is what the server process
runs per request (uvicorn's parsing and response heads, the event loop, the app), free of what
a window costs besides its requests.

Unlike `--breakdown` (the ASGI callables in process, no server), this sees what the platform
costs inside the server too: its response headers go through uvicorn's per-header checks and
its bigger head through the socket. Instruction counts do not depend on the VM's speed, which
the req/s of the wrk runs do.
"""

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slipway_bench import server
from slipway_bench.breakdown import (
    CALLGRIND_MISSING,
    callgrind_command,
    callgrind_control,
    callgrind_env,
    callgrind_total,
)
from slipway_bench.overhead import (
    OTLP_KIND,
    REQUEST_PATH,
    free_port,
    running_otlp_sink,
    stop,
    wait_until_serving,
)
from slipway_bench.wrk import run_wrk, write_done_script, wrk_command

START_TIMEOUT_S = 300.0
"""Under valgrind the server takes ~10x its usual start-up (imports run at valgrind's speed)."""


@dataclass(frozen=True)
class ServerCount:
    """One server's measured window: the instructions it ran and the requests wrk completed."""

    kind: str
    instructions: int
    requests: int
    errors: int

    @property
    def per_request(self) -> float:
        """Instructions per completed request."""
        return self.instructions / self.requests if self.requests else float("inf")

    def as_dict(self) -> dict[str, Any]:
        """The count as a JSON-ready dict."""
        return {
            "instructions": self.instructions,
            "requests": self.requests,
            "errors": self.errors,
            "instructions_per_request": round(self.per_request, 1),
        }


def wait_for_dumps(out: Path, process: subprocess.Popen[bytes], count: int) -> list[Path]:
    """The first `count` dump files `callgrind_control --dump` asked for, once written."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        dumps = sorted(out.parent.glob(out.name + ".*"), key=lambda p: int(p.suffix[1:]))
        if len(dumps) >= count and all(
            "totals:" in dump.read_text(encoding="utf-8", errors="replace")
            for dump in dumps[:count]
        ):
            return dumps[:count]
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise RuntimeError(f"callgrind wrote fewer than {count} dumps for {out.name}")


@contextmanager
def callgrind_server(
    kind: str, cpu: int | None, workdir: Path, extra_args: tuple[str, ...] = ()
) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """Serve the `kind` app under callgrind, instrumentation off: its URL, process and dump path."""
    port = free_port()
    out = workdir / f"cg-server-{kind.replace('+', '-')}.out"
    log = workdir / f"{kind}.callgrind.stderr.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(  # noqa: S603 - our interpreter under valgrind
            callgrind_command(out, server.__name__, [kind, str(port), *extra_args]),
            env=callgrind_env(),
            stdout=subprocess.DEVNULL,  # the platform's access lines, rendered and discarded
            stderr=stderr,
            preexec_fn=None if cpu is None else lambda: os.sched_setaffinity(0, {cpu}),
        )
    url = f"http://{server.HOST}:{port}{REQUEST_PATH}"
    try:
        wait_until_serving(url, process, log, timeout_s=START_TIMEOUT_S)
        yield url, process, out
    finally:
        stop(process)


@dataclass(frozen=True)
class Load:
    """How wrk loads a server under callgrind, and the cores of both."""

    wrk: str
    duration_s: int
    warmup_s: int
    connections: int
    server_cpu: int | None
    load_cpu: int | None


def count_server(
    kind: str, load: Load, workdir: Path, extra_args: tuple[str, ...] = ()
) -> ServerCount:
    """Warm the `kind` server up with wrk, then count two windows, of `load.duration_s` and
    twice that, and keep their difference: what a window costs besides its requests (wrk's
    new connections, the callgrind_control calls, the requests in flight at its ends) cancels."""
    script = write_done_script(workdir)
    with callgrind_server(kind, load.server_cpu, workdir, extra_args) as (url, process, out):

        def command(seconds: int) -> list[str]:
            return wrk_command(
                load.wrk, url, script=script, duration_s=seconds, connections=load.connections
            )

        run_wrk(command(load.warmup_s), cpu=load.load_cpu)
        callgrind_control(process.pid, "--zero")
        callgrind_control(process.pid, "--instr=on")
        results = []
        for seconds in (load.duration_s, 2 * load.duration_s):
            results.append(run_wrk(command(seconds), cpu=load.load_cpu))
            callgrind_control(process.pid, "--dump")  # and zero the counters for the next one
        callgrind_control(process.pid, "--instr=off")
        short, long = (
            callgrind_total(dump.read_text(encoding="utf-8"))
            for dump in wait_for_dumps(out, process, 2)
        )
    if results[1].requests <= results[0].requests:
        raise RuntimeError(
            f"{kind}: the {2 * load.duration_s}s window completed no more requests than the "
            f"{load.duration_s}s one ({results[1].requests} against {results[0].requests})"
        )
    return ServerCount(
        kind,
        instructions=long - short,
        requests=results[1].requests - results[0].requests,
        errors=results[0].error_count + results[1].error_count,
    )


def ratio(bare: ServerCount, other: ServerCount) -> float:
    """`other`'s throughput as a fraction of bare's, on one core: bare's cost over its cost."""
    return bare.per_request / other.per_request


def format_table(counts: Sequence[ServerCount], *, min_ratio: float) -> list[str]:
    """The table: each server's kIr/request, requests counted, and its ratio to bare."""
    lines = [f"{'server':<15}{'kIr/req':>10}{'requests':>10}{'errors':>8}{'x bare':>9}"]
    bare = next(count for count in counts if count.kind == "bare")
    for count in counts:
        lines.append(
            f"{count.kind:<15}{count.per_request / 1000:>10.1f}{count.requests:>10}"
            f"{count.errors:>8}{ratio(bare, count):>8.3f}x"
        )
    platform = next((count for count in counts if count.kind == "platform"), None)
    if platform is not None:
        value = ratio(bare, platform)
        verdict = "MET" if value >= min_ratio else "MISSED"
        needed = bare.per_request / min_ratio / 1000
        lines.append(
            f"whole server platform/bare: {value:.3f} (issue 13 goal >= {min_ratio}: "
            f"{verdict}; the goal needs <= {needed:.1f} kIr/req)"
        )
    return lines


def run_server_callgrind(
    kinds: Sequence[str], load: Load, *, min_ratio: float, otlp_sample_ratio: float = 1.0
) -> dict[str, Any]:
    """Count every server in `kinds` (bare first), print the table; the JSON report."""
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise RuntimeError(CALLGRIND_MISSING)
    counts: list[ServerCount] = []
    with tempfile.TemporaryDirectory(prefix="slipway-bench-cg-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        for kind in kinds:
            extra: tuple[str, ...] = ()
            if kind == OTLP_KIND:
                sink, _ = stack.enter_context(running_otlp_sink(load.load_cpu, workdir))
                extra = ("--otlp-endpoint", sink, "--sample-ratio", str(otlp_sample_ratio))
            count = count_server(kind, load, workdir, extra)
            counts.append(count)
            print(
                f"  {kind:<14}{count.per_request / 1000:>8.1f} k instructions/req "
                f"({count.requests} requests, {count.errors} errors)"
            )
    for line in format_table(counts, min_ratio=min_ratio):
        print(line)
    bare = counts[0]
    return {
        "settings": {
            "duration_s": load.duration_s,
            "warmup_s": load.warmup_s,
            "connections": load.connections,
            "server_cpu": load.server_cpu,
            "load_cpu": load.load_cpu,
            "otlp_sample_ratio": otlp_sample_ratio,
        },
        "servers": {count.kind: count.as_dict() for count in counts},
        "ratios_to_bare": {count.kind: round(ratio(bare, count), 4) for count in counts},
    }
