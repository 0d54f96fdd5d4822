"""What the platform stack costs: the same JSON handler bare and through `create_app`.

`./pants run tooling/bench:overhead -- --duration 10 --rounds 3` starts three apps as uvicorn
subprocesses pinned to one core: bare FastAPI, the platform (tracing without an exporter) and
platform+otlp (the platform exporting every span over OTLP/HTTP to a local receiver, which
runs on the load core); drives them in turn with wrk pinned to another core (a warm-up run
before each measured run), and prints median req/s, p50 and p99 and the platform/bare and
platform+otlp/platform ratios; the full results go to a JSON file. `--in-process N` instead
drives the same apps' ASGI callables in a loop (no server, no sockets) and prints the Python
cost per request. `--breakdown` measures, in process, what each feature of the platform
stack and each step of the OTLP export costs per request, by ablation (`slipway_bench.breakdown`).
`--server-callgrind` counts each whole server's instructions per request under callgrind, wrk
loading it (`slipway_bench.server_callgrind`).
See docs/performance.md.
"""

import argparse
import json
import os
import platform as host_platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from slipway_bench import otlp_sink, server
from slipway_bench.verdict import Summary, Verdict, compare, summarize
from slipway_bench.wrk import WrkResult, run_wrk, write_done_script, wrk_command

KINDS = server.KINDS
REQUEST_PATH = "/items/42"
OTLP_KIND = "platform+otlp"
# Issue 13: the platform keeps >= 0.8x of bare throughput, and an OTLP exporter makes it at
# most 10 % slower again (cost per request <= 1.1x, i.e. throughput >= 1/1.1 of the platform's).
MIN_PLATFORM_RATIO = 0.8
MAX_OTLP_COST_RATIO = 1.1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line options."""
    parser = argparse.ArgumentParser(prog="overhead", description=__doc__)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up before each")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections")
    parser.add_argument("--rounds", type=int, default=3, help="bare+platform pairs to run")
    parser.add_argument("--json-out", type=Path, default=Path("dist/bench/overhead.json"))
    parser.add_argument("--server-cpu", type=int, default=0, help="core for the servers")
    parser.add_argument("--load-cpu", type=int, default=1, help="core for wrk")
    parser.add_argument("--wrk", default="wrk", help="the wrk executable")
    parser.add_argument(
        "--kinds", nargs="+", choices=KINDS, default=list(KINDS), help="apps to run"
    )
    parser.add_argument(
        "--otlp-sample-ratio", type=float, default=1.0, help="sampling of platform+otlp"
    )
    parser.add_argument(
        "--in-process",
        type=int,
        default=0,
        metavar="N",
        help="no server: time N requests per app through its ASGI callable (best of 5)",
    )
    parser.add_argument(
        "--in-process-ratios",
        type=float,
        nargs="+",
        metavar="R",
        help="with --in-process: measure platform+otlp at each sampling ratio R",
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="no server: each feature's and each OTLP step's cost per request, by ablation",
    )
    parser.add_argument(
        "--breakdown-requests", type=int, default=2000, help="requests per --breakdown round"
    )
    parser.add_argument(
        "--breakdown-rounds", type=int, default=7, help="interleaved --breakdown rounds (best)"
    )
    parser.add_argument(
        "--breakdown-json", type=Path, default=Path("dist/bench/overhead-breakdown.json")
    )
    parser.add_argument(
        "--bsp-schedule-delay-ms", type=int, help="BatchSpanProcessor schedule delay (OTLP)"
    )
    parser.add_argument(
        "--bsp-max-export-batch", type=int, help="BatchSpanProcessor max export batch (OTLP)"
    )
    parser.add_argument("--bsp-max-queue", type=int, help="BatchSpanProcessor max queue (OTLP)")
    parser.add_argument(
        "--callgrind",
        action="store_true",
        help="--breakdown in instructions per request, each variant under valgrind's callgrind",
    )
    parser.add_argument(
        "--breakdown-ratios",
        type=float,
        nargs="+",
        default=[],
        metavar="R",
        help="--breakdown: also the OTLP exporter's cost at each sampling ratio R",
    )
    parser.add_argument(
        "--no-otlp-breakdown", action="store_true", help="--breakdown without the OTLP part"
    )
    parser.add_argument(
        "--server-callgrind",
        action="store_true",
        help="the whole server's instructions per request: each server under callgrind, "
        "loaded by wrk for --duration and twice that (slipway_bench.server_callgrind)",
    )
    parser.add_argument(
        "--callgrind-connections",
        type=int,
        default=4,
        help="wrk connections for --server-callgrind (the server is ~50x slower under it)",
    )
    parser.add_argument(
        "--server-callgrind-json",
        type=Path,
        default=Path("dist/bench/overhead-server-callgrind.json"),
    )
    args = parser.parse_args(argv)
    if "bare" not in args.kinds:
        parser.error("--kinds needs bare: every ratio is against it")
    return args


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((server.HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _log_tail(log: Path) -> str:
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(lines[-20:])


def wait_until_serving(
    url: str, process: subprocess.Popen[bytes], log: Path, *, timeout_s: float = 60.0
) -> None:
    """Return once `url` answers 200; RuntimeError (with the log's tail) if `process` exits
    first or `timeout_s` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited {process.returncode}:\n{_log_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise RuntimeError(f"server at {url} did not answer within {timeout_s:.0f}s:\n{_log_tail(log)}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate `process` and wait for it; kill it if it is still running 30 s later."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _subprocess(
    module: str, args: list[str], cpu: int | None, stdout: Any, stderr: Any
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": server.child_pythonpath()}
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", module, *args],
        stdout=stdout,
        stderr=stderr,
        env=env,
        preexec_fn=None if cpu is None else lambda: os.sched_setaffinity(0, {cpu}),
    )


@contextmanager
def running_server(
    kind: str, port: int, cpu: int | None, workdir: Path, extra_args: tuple[str, ...] = ()
) -> Iterator[str]:
    """Serve the `kind` app in a subprocess pinned to `cpu`; yields the URL to load."""
    log = workdir / f"{kind}.stderr.log"
    with log.open("wb") as stderr:
        # stdout: the platform's JSON access log, rendered and discarded.
        process = _subprocess(
            server.__name__, [kind, str(port), *extra_args], cpu, subprocess.DEVNULL, stderr
        )
    url = f"http://{server.HOST}:{port}{REQUEST_PATH}"
    try:
        wait_until_serving(url, process, log)
        yield url
    finally:
        stop(process)


@contextmanager
def running_otlp_sink(cpu: int | None, workdir: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """The OTLP/HTTP receiver in a subprocess pinned to `cpu`: its base URL, and a dict that
    holds its counts (export requests, bytes) once it has stopped."""
    port = free_port()
    log = workdir / "otlp-sink.stderr.log"
    counts = workdir / "otlp-sink.stdout"
    with log.open("wb") as stderr, counts.open("wb") as stdout:
        process = _subprocess(otlp_sink.__name__, [str(port)], cpu, stdout, stderr)
    base = f"http://{server.HOST}:{port}"
    stats: dict[str, Any] = {}
    try:
        wait_until_serving(base + "/", process, log)
        yield base, stats
    finally:
        stop(process)
        text = counts.read_text(encoding="utf-8").strip()
        if text:
            stats.update(json.loads(text.splitlines()[-1]))


def _cpus(args: argparse.Namespace) -> tuple[int | None, int | None]:
    available = os.sched_getaffinity(0)
    if {args.server_cpu, args.load_cpu} <= available and args.server_cpu != args.load_cpu:
        return args.server_cpu, args.load_cpu
    print(f"warning: cores {args.server_cpu}/{args.load_cpu} unavailable; not pinning")
    return None, None


def _print_table(
    kinds: list[str], summaries: dict[str, Summary], verdicts: dict[str, Verdict]
) -> None:
    print(f"{'app':<15}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'us/req':>10}")
    for kind in kinds:
        s = summaries[kind]
        cost = 1e6 / s.requests_per_second if s.requests_per_second else float("inf")
        print(
            f"{kind:<15}{s.requests_per_second:>10.0f}{s.p50_ms:>10.2f}"
            f"{s.p99_ms:>10.2f}{cost:>10.1f}"
        )
    platform = verdicts.get("platform/bare")
    if platform is not None:
        print(
            f"ratio platform/bare: req/s {platform.throughput_ratio:.3f}, "
            f"p50 {platform.p50_ratio:.2f}x, p99 {platform.p99_ratio:.2f}x -> issue 13 goal "
            f"(>= {MIN_PLATFORM_RATIO}) "
            f"{'MET' if platform.throughput_ratio >= MIN_PLATFORM_RATIO else 'MISSED'}"
        )
    otlp = verdicts.get(f"{OTLP_KIND}/platform")
    if otlp is not None:
        cost_ratio = 1 / otlp.throughput_ratio if otlp.throughput_ratio else float("inf")
        print(
            f"ratio {OTLP_KIND}/platform: req/s {otlp.throughput_ratio:.3f} "
            f"(cost {cost_ratio:.3f}x), p99 {otlp.p99_ratio:.2f}x -> issue 13 goal "
            f"(cost <= {MAX_OTLP_COST_RATIO}x) "
            f"{'MET' if cost_ratio <= MAX_OTLP_COST_RATIO else 'MISSED'}"
        )


def _verdicts(summaries: dict[str, Summary]) -> dict[str, Verdict]:
    pairs = [("platform", "bare"), (OTLP_KIND, "bare"), (OTLP_KIND, "platform")]
    return {
        f"{a}/{b}": compare(summaries[b], summaries[a])
        for a, b in pairs
        if a in summaries and b in summaries
    }


def _measure(
    args: argparse.Namespace, wrk: str, urls: dict[str, str], script: Path, load_cpu: int | None
) -> dict[str, list[WrkResult]]:
    runs: dict[str, list[WrkResult]] = {kind: [] for kind in args.kinds}
    for round_number in range(1, args.rounds + 1):
        for kind in args.kinds:
            common = {"script": script, "connections": args.connections}
            warmup = wrk_command(wrk, urls[kind], duration_s=args.warmup, **common)
            run_wrk(warmup, cpu=load_cpu)
            measured = wrk_command(wrk, urls[kind], duration_s=args.duration, **common)
            result = run_wrk(measured, cpu=load_cpu)
            runs[kind].append(result)
            print(
                f"round {round_number} {kind:<14} {result.requests_per_second:>8.0f} req/s"
                f"  p50 {result.p50_ms:.2f} ms  p99 {result.p99_ms:.2f} ms"
                f"  errors {result.error_count}"
            )
    return runs


def benchmark(args: argparse.Namespace, wrk: str) -> dict[str, Any]:
    """Run every round; the report written to the JSON file."""
    server_cpu, load_cpu = _cpus(args)
    sink_stats: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="slipway-bench-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        script = write_done_script(workdir)
        urls: dict[str, str] = {}
        for kind in args.kinds:
            extra: tuple[str, ...] = ()
            if kind == OTLP_KIND:
                sink, sink_stats = stack.enter_context(running_otlp_sink(load_cpu, workdir))
                extra = ("--otlp-endpoint", sink, "--sample-ratio", str(args.otlp_sample_ratio))
            urls[kind] = stack.enter_context(
                running_server(kind, free_port(), server_cpu, workdir, extra)
            )
        runs = _measure(args, wrk, urls, script, load_cpu)
    summaries = {kind: summarize(runs[kind]) for kind in args.kinds}
    verdicts = _verdicts(summaries)
    _print_table(args.kinds, summaries, verdicts)
    if sink_stats:
        print(f"otlp sink received {sink_stats}")
    platform = verdicts.get("platform/bare")
    return {
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "rounds": args.rounds,
            "wrk_threads": 1,
            "server_cpu": server_cpu,
            "load_cpu": load_cpu,
            "uvicorn": server.UVICORN_OPTIONS,
            "uvicorn_platform": server.PLATFORM_OPTIONS,
            "otlp_sample_ratio": args.otlp_sample_ratio,
        },
        "machine": {
            "python": sys.version.split()[0],
            "platform": host_platform.platform(),
            "cpus": os.cpu_count(),
        },
        "runs": {kind: [r.as_dict() for r in runs[kind]] for kind in args.kinds},
        "median": {kind: summaries[kind].as_dict() for kind in args.kinds},
        "verdict": platform.as_dict() if platform is not None else None,
        "ratios": {name: v.as_dict() for name, v in verdicts.items()},
        "otlp_sink": sink_stats,
    }


def batch_options(args: argparse.Namespace) -> dict[str, int]:
    """The BatchSpanProcessor options given on the command line."""
    given = {
        "schedule_delay_millis": args.bsp_schedule_delay_ms,
        "max_export_batch_size": args.bsp_max_export_batch,
        "max_queue_size": args.bsp_max_queue,
    }
    return {name: value for name, value in given.items() if value is not None}


def _breakdown(args: argparse.Namespace) -> int:
    from slipway_bench.breakdown import run_breakdown

    with tempfile.TemporaryDirectory(prefix="slipway-bench-") as tmp, ExitStack() as stack:
        sink = None
        if not args.no_otlp_breakdown:
            sink, _ = stack.enter_context(running_otlp_sink(None, Path(tmp)))
        run_breakdown(
            args.breakdown_requests,
            args.breakdown_rounds,
            sink,
            args.breakdown_json,
            sample_ratio=args.otlp_sample_ratio,
            batch_options=batch_options(args),
            callgrind=args.callgrind,
            sweep_ratios=args.breakdown_ratios,
        )
    return 0


def _server_callgrind(args: argparse.Namespace, wrk: str) -> dict[str, Any]:
    from slipway_bench.server_callgrind import Load, run_server_callgrind

    server_cpu, load_cpu = _cpus(args)
    load = Load(wrk, args.duration, args.warmup, args.callgrind_connections, server_cpu, load_cpu)
    return run_server_callgrind(
        args.kinds, load, min_ratio=MIN_PLATFORM_RATIO, otlp_sample_ratio=args.otlp_sample_ratio
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 2 when wrk (or valgrind) is missing or a run failed, else 0."""
    args = parse_args(argv)
    if args.breakdown:
        return _breakdown(args)
    if args.in_process:
        from slipway_bench.inprocess import run_in_process

        with (
            tempfile.TemporaryDirectory(prefix="slipway-bench-") as tmp,
            running_otlp_sink(None, Path(tmp)) as (sink, _),
        ):
            ratios = args.in_process_ratios or [args.otlp_sample_ratio]
            run_in_process(args.kinds, args.in_process, sink, ratios)
        return 0
    wrk = shutil.which(args.wrk)
    if wrk is None:
        print("wrk not found: install it with `apt-get install wrk`", file=sys.stderr)
        return 2
    run, out = (
        (_server_callgrind, args.server_callgrind_json)
        if args.server_callgrind
        else (benchmark, args.json_out)
    )
    try:
        report = run(args, wrk)
    except (RuntimeError, ValueError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
