"""Change-to-subscriber latency of the contexts service, on each storage backend.

`./pants run tooling/bench:events-latency -- --duration 20 --rate 100 --subscribers 20`
starts the contexts service pinned to core 0 on a fresh store (embedded: a new SQLite file
and the in-process stream; postgres-redis: a new database on 127.0.0.1:5432 and Redis streams
under a prefix of their own), opens `--subscribers` SSE streams on one namespace from one
asyncio process, then PUTs at `--rate` writes/s for `--duration` s with wrk, the rate shared
by `--connections` connections (wrk and the subscribers share core 1). Latency per event and
subscriber is its arrival time minus its `occurred_at`. Prints a table and the goal verdict
(p99 <= 50 ms), writes JSON. See docs/performance.md, "Change-to-subscriber latency".
"""

import argparse
import json
import os
import platform as host_platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import httpx
import redis.asyncio as redis_asyncio

from contexts.domain.policy import READ_SCOPE, WRITE_SCOPE
from contexts.settings import DEV_AUDIENCE, DEV_HS256_SECRET, DEV_ISSUER, Settings
from slipway.auth.testing import hs256_signing_key, mint_token
from slipway_bench import events_subscribers
from slipway_bench.latency_report import (
    LatencyResult,
    SubscriberCounts,
    format_table,
    summarize,
)
from slipway_bench.latency_service import (
    has_setting,
    running_service,
    service_settings,
    setting_default,
)
from slipway_bench.latency_stores import fresh_store
from slipway_bench.overhead import free_port
from slipway_bench.procfs import process_cpu_seconds
from slipway_bench.server import child_pythonpath
from slipway_bench.write_load import run_writes, write_pacing_script
from slipway_bench.wrk import WrkResult, wrk_command

BACKENDS = ("embedded", "postgres-redis")
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
READER_GROUP = "latency-readers"
CONTEXTS = 256
"""The writes rotate over this many contexts: a write to one comes 2.56 s after the last one
(at 100/s), so concurrent writes do not collide on a version even when one is slow."""
WRITE_CONNECTIONS = 8
"""Enough for 100 writes/s while a PUT takes up to 80 ms (PostgreSQL here: 45-100 ms)."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line options."""
    parser = argparse.ArgumentParser(prog="events-latency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=20, help="seconds of writes per backend")
    parser.add_argument("--rate", type=float, default=100.0, help="writes per second")
    parser.add_argument("--subscribers", type=int, default=20, help="SSE streams")
    parser.add_argument(
        "--connections",
        type=int,
        default=WRITE_CONNECTIONS,
        help="wrk connections sharing the write rate (a write must end before its next)",
    )
    parser.add_argument("--backend", choices=(*BACKENDS, "both"), default="both")
    parser.add_argument("--drain", type=float, default=3.0, help="seconds to wait after writes")
    parser.add_argument("--json", type=Path, default=Path("dist/bench/events-latency.json"))
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL, help="PostgreSQL to create in")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--server-cpu", type=int, default=0, help="core for the service")
    parser.add_argument("--load-cpu", type=int, default=1, help="core for wrk and subscribers")
    parser.add_argument("--wrk", default="wrk", help="the wrk executable")
    args = parser.parse_args(argv)
    if min(args.duration, args.subscribers, args.connections) < 1:
        parser.error("duration, subscribers and connections must be >= 1")
    if args.connections > CONTEXTS:
        parser.error(f"at most {CONTEXTS} connections: two writes to one context would conflict")
    if args.rate <= 0 or args.drain < 0:
        parser.error("rate must be > 0, drain >= 0")
    return args


def _token(subject: str, scopes: list[str], groups: list[str] | None = None) -> str:
    return mint_token(
        hs256_signing_key(DEV_HS256_SECRET),
        issuer=DEV_ISSUER,
        audience=DEV_AUDIENCE,
        subject=subject,
        scopes=scopes,
        expires_in=3600,
        claims={"groups": groups} if groups else None,
    )


def _pin(cpu: int | None) -> Any:
    return None if cpu is None else lambda: os.sched_setaffinity(0, {cpu})


@contextmanager
def running_subscribers(
    base_url: str, namespace: str, count: int, workdir: Path, *, cpu: int | None
) -> Iterator[Path]:
    """Start the subscriber process; yields its results file, written once the block ends."""
    tokens = [_token(f"latency-reader-{i}", [READ_SCOPE], [READER_GROUP]) for i in range(count)]
    tokens_file, out = workdir / "tokens.json", workdir / "subscribers.json"
    tokens_file.write_text(json.dumps(tokens), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": child_pythonpath()}
    command = [sys.executable, "-m", events_subscribers.__name__, "--base-url", base_url]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [*command, "--namespace", namespace, "--tokens", str(tokens_file), "--out", str(out)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=_pin(cpu),
    )
    try:
        # The subscriber process prints one line within its start-up timeout, or exits.
        line = process.stdout.readline().strip() if process.stdout is not None else ""
        if line != events_subscribers.READY_LINE:
            raise RuntimeError(f"subscribers did not start: {line or 'no output'}")
        yield out
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def versions_written(base_url: str, namespace: str, token: str) -> int:
    """How many versions the namespace's contexts have: one per committed write."""
    total, cursor = 0, None
    headers = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30.0) as client:
        while True:
            params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
            response = client.get(f"/v1/contexts/{namespace}", params=params)
            response.raise_for_status()
            page = response.json()
            total += sum(int(item["version"]) for item in page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return total


def measure(
    backend: str, base_url: str, server_pid: int, args: argparse.Namespace, workdir: Path
) -> tuple[LatencyResult, WrkResult, dict[int, int], float]:
    """Subscribe, write for `--duration`, drain; result, wrk's run, statuses, server CPU s."""
    namespace, nonce = f"latency-{os.getpid()}", secrets.token_hex(4)
    writer = _token("latency-writer", [READ_SCOPE, WRITE_SCOPE])
    script = write_pacing_script(
        workdir,
        rate=args.rate,
        namespace=namespace,
        token=writer,
        group=READER_GROUP,
        nonce=nonce,
        contexts=CONTEXTS,
    )
    command = wrk_command(
        args.wrk, base_url, script=script, duration_s=args.duration, connections=args.connections
    )
    with running_subscribers(
        base_url, namespace, args.subscribers, workdir, cpu=args.load_cpu
    ) as out:
        cpu_before = process_cpu_seconds(server_pid)
        writes, statuses = run_writes(command, cpu=args.load_cpu)
        time.sleep(args.drain)
        server_cpu = process_cpu_seconds(server_pid) - cpu_before
    committed = versions_written(base_url, namespace, writer)
    records = json.loads(out.read_text(encoding="utf-8"))["subscribers"]
    result = summarize(
        backend,
        target_rate=args.rate,
        writes_acked=writes.requests - writes.errors.get("status", 0),
        writes_committed=committed,
        write_errors=writes.error_count,
        write_seconds=writes.duration_s,
        subscribers=[SubscriberCounts.from_dict(r) for r in records],
    )
    return result, writes, statuses, server_cpu


def run_backend(backend: str, args: argparse.Namespace) -> tuple[LatencyResult, dict[str, Any]]:
    """One backend, start to finish: fresh store, service, measurement; result and report."""
    with tempfile.TemporaryDirectory(prefix="slipway-latency-") as tmp:
        workdir = Path(tmp)
        stores = {"admin_url": args.admin_url, "redis_url": args.redis_url, "workdir": workdir}
        with fresh_store(backend, **stores) as store:
            settings = service_settings(
                free_port(), store["database_url"], store["redis_url"], store.get("stream_prefix")
            )
            with running_service(settings, workdir, cpu=args.server_cpu) as service:
                result, writes, statuses, server_cpu = measure(
                    backend, service.base_url, service.pid, args, workdir
                )
    print(
        f"{backend}: {result.writes_per_second:.1f} writes/s, PUT p50 {writes.p50_ms:.1f} ms"
        f" p99 {writes.p99_ms:.1f} ms, statuses {dict(sorted(statuses.items()))},"
        f" server CPU {server_cpu / writes.duration_s:.0%} of a core",
        flush=True,
    )
    report = result.as_dict()
    report["put"] = writes.as_dict()
    report["put_statuses"] = {str(status): count for status, count in sorted(statuses.items())}
    report["server_cpu_share"] = round(server_cpu / writes.duration_s, 3)
    report["stream_prefix"] = store.get("stream_prefix")
    return result, report


def _check_cores(args: argparse.Namespace) -> None:
    available = os.sched_getaffinity(0)
    if {args.server_cpu, args.load_cpu} <= available and args.server_cpu != args.load_cpu:
        return
    print(f"warning: cores {args.server_cpu}/{args.load_cpu} unavailable; not pinning")
    args.server_cpu = args.load_cpu = None


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 2 when wrk is missing or a run failed, else 0."""
    args = parse_args(argv)
    wrk = shutil.which(args.wrk)
    if wrk is None:
        print("wrk not found: install it with `apt-get install wrk`", file=sys.stderr)
        return 2
    args.wrk = wrk
    _check_cores(args)
    backends = BACKENDS if args.backend == "both" else (args.backend,)
    results: list[LatencyResult] = []
    reports = []
    try:
        for backend in backends:
            result, report = run_backend(backend, args)
            results.append(result)
            reports.append(report)
    except (
        RuntimeError,
        ValueError,
        OSError,
        httpx.HTTPError,
        asyncpg.PostgresError,
        redis_asyncio.RedisError,
    ) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2
    print()
    print(format_table(results))
    for result in results:
        print(result.verdict())
    document = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["events-latency", *(argv if argv is not None else sys.argv[1:])]),
        "settings": {
            "duration_s": args.duration,
            "rate": args.rate,
            "subscribers": args.subscribers,
            "write_connections": args.connections,
            "drain_s": args.drain,
            "server_cpu": args.server_cpu,
            "load_cpu": args.load_cpu,
            "relay_poll_interval_s": _poll_interval(),
        },
        "machine": {
            "python": sys.version.split()[0],
            "platform": host_platform.platform(),
            "cpus": os.cpu_count(),
        },
        "results": reports,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {args.json}")
    return 0


POLL_INTERVAL_PATHS = (
    ("events", "outbox", "poll_interval_seconds"),  # slipway.events' OutboxSettings
    ("events", "poll_interval_seconds"),  # the service's own relay, before slipway.events
)


def _poll_interval() -> float | None:
    """The relay's idle (or fallback) poll interval the service runs with: its default."""
    for path in POLL_INTERVAL_PATHS:
        if has_setting(Settings, *path):
            return float(setting_default(Settings, *path))
    return None


if __name__ == "__main__":
    sys.exit(main())
