"""What the platform stack costs: the same JSON handler bare and through `create_app`.

`./pants run tooling/bench:overhead -- --duration 10 --rounds 3` starts both apps as uvicorn
subprocesses pinned to one core, drives them alternately with wrk pinned to another (a warm-up
run before each measured run), and prints median req/s, p50 and p99 and the platform/bare
ratios; the full results go to a JSON file. See docs/performance.md.
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
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from slipway_bench import server
from slipway_bench.verdict import Summary, Verdict, compare, summarize
from slipway_bench.wrk import WrkResult, run_wrk, write_done_script, wrk_command

KINDS = ("bare", "platform")
REQUEST_PATH = "/items/42"


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
    return parser.parse_args(argv)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((server.HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _log_tail(log: Path) -> str:
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(lines[-20:])


def _wait_until_serving(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited {process.returncode}:\n{_log_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise RuntimeError(f"server at {url} did not answer within 60s:\n{_log_tail(log)}")


@contextmanager
def running_server(kind: str, port: int, cpu: int | None, workdir: Path) -> Iterator[str]:
    """Serve the `kind` app in a subprocess pinned to `cpu`; yields the URL to load."""
    log = workdir / f"{kind}.stderr.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    with log.open("wb") as stderr:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", server.__name__, kind, str(port)],
            stdout=subprocess.DEVNULL,  # the platform's JSON access log: rendered, discarded
            stderr=stderr,
            env=env,
            preexec_fn=None if cpu is None else lambda: os.sched_setaffinity(0, {cpu}),
        )
    url = f"http://{server.HOST}:{port}{REQUEST_PATH}"
    try:
        _wait_until_serving(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _cpus(args: argparse.Namespace) -> tuple[int | None, int | None]:
    available = os.sched_getaffinity(0)
    if {args.server_cpu, args.load_cpu} <= available and args.server_cpu != args.load_cpu:
        return args.server_cpu, args.load_cpu
    print(f"warning: cores {args.server_cpu}/{args.load_cpu} unavailable; not pinning")
    return None, None


def _print_table(summaries: dict[str, Summary], verdict: Verdict) -> None:
    print(f"{'app':<10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for kind in KINDS:
        s = summaries[kind]
        print(f"{kind:<10}{s.requests_per_second:>10.0f}{s.p50_ms:>10.2f}{s.p99_ms:>10.2f}")
    print(
        f"ratio platform/bare: req/s {verdict.throughput_ratio:.3f}, "
        f"p50 {verdict.p50_ratio:.2f}x, p99 {verdict.p99_ratio:.2f}x -> "
        f"goal (>= 0.85, p99 <= 1.25x) {'MET' if verdict.met else 'MISSED'}"
    )


def benchmark(args: argparse.Namespace, wrk: str) -> dict[str, Any]:
    """Run every round; the report written to the JSON file."""
    server_cpu, load_cpu = _cpus(args)
    runs: dict[str, list[WrkResult]] = {kind: [] for kind in KINDS}
    with tempfile.TemporaryDirectory(prefix="slipway-bench-") as tmp:
        workdir = Path(tmp)
        script = write_done_script(workdir)
        with (
            running_server("bare", free_port(), server_cpu, workdir) as bare_url,
            running_server("platform", free_port(), server_cpu, workdir) as platform_url,
        ):
            urls = {"bare": bare_url, "platform": platform_url}
            for round_number in range(1, args.rounds + 1):
                for kind in KINDS:
                    common = {"script": script, "connections": args.connections}
                    warmup = wrk_command(wrk, urls[kind], duration_s=args.warmup, **common)
                    run_wrk(warmup, cpu=load_cpu)
                    measured = wrk_command(wrk, urls[kind], duration_s=args.duration, **common)
                    result = run_wrk(measured, cpu=load_cpu)
                    runs[kind].append(result)
                    print(
                        f"round {round_number} {kind:<8} {result.requests_per_second:>8.0f} req/s"
                        f"  p50 {result.p50_ms:.2f} ms  p99 {result.p99_ms:.2f} ms"
                        f"  errors {result.error_count}"
                    )
    summaries = {kind: summarize(runs[kind]) for kind in KINDS}
    verdict = compare(summaries["bare"], summaries["platform"])
    _print_table(summaries, verdict)
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
        },
        "machine": {
            "python": sys.version.split()[0],
            "platform": host_platform.platform(),
            "cpus": os.cpu_count(),
        },
        "runs": {kind: [r.as_dict() for r in runs[kind]] for kind in KINDS},
        "median": {kind: summaries[kind].as_dict() for kind in KINDS},
        "verdict": verdict.as_dict(),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 2 when wrk is missing or a run failed, else 0."""
    args = parse_args(argv)
    wrk = shutil.which(args.wrk)
    if wrk is None:
        print("wrk not found: install it with `apt-get install wrk`", file=sys.stderr)
        return 2
    try:
        report = benchmark(args, wrk)
    except (RuntimeError, ValueError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
