"""The contexts service on PostgreSQL side by side with its limit: the same statements, bare.

`./pants run tooling/bench:contexts -- --duration 8 --concurrency 32` creates a throwaway
database on the PostgreSQL at 127.0.0.1:5432 and serves, each as one uvicorn process pinned to
`--server-cpu` (core 0):

- **contexts**: the real service (`python -m contexts.main`, its own entry point: migrations at
  start-up, development HS256 auth, JSON logs, the rate limiter on with a limit the load never
  reaches, no Redis: the outbox relay publishes to the in-process event stream);
- **limit**: `slipway_bench.limit_app`, bare FastAPI on a raw asyncpg pool running the
  service's SQL for each operation, nothing else.

Both get the same seeded contexts (in namespaces of their own) and, one after the other per
operation, the same load: wrk `-t1 -c<concurrency>` pinned to `--load-cpu` (core 1), a warm-up
run, then `--duration` s measured, for GET, list (`limit=50`), PUT (a body no earlier request
had, so every PUT appends a version) and PATCH (a merge patch with a new body each time). The
server's CPU per request comes from `/proc/<pid>/stat` (utime + stime) over the measured run,
its RSS from `/proc/<pid>/status` (VmRSS) at its end. Then the SSE fan-out on the service:
`--sse-subscribers` streams (one asyncio process on the load core) and one paced writer
(`--sse-rate` PUTs/s), delivery latency p50/p99 and the server's CPU. The limit has no event
stream: the fan-out has no limit row. Prints a table, writes JSON (`--json-out`). See
docs/performance.md, "Contexts service on PostgreSQL".

`--server-times` keeps the service's JSON log in a file instead of /dev/null and, for each
operation, sets the time its requests spent inside the service (the access lines'
`duration_ms`) beside wrk's latency: what of a tail is spent in the app and what waiting to be
read (`slipway_bench.server_times`).
"""

import argparse
import asyncio
import json
import os
import platform as host_platform
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import httpx
import redis.asyncio as redis_asyncio

from contexts.domain.policy import READ_SCOPE, WRITE_SCOPE
from contexts.settings import DEV_AUDIENCE, DEV_HS256_SECRET, DEV_ISSUER, Settings
from slipway.auth.testing import hs256_signing_key, mint_token
from slipway.db import DatabaseSettings
from slipway_bench import events_latency, limit_app, profile, server_times
from slipway_bench.latency_service import has_setting, running_service, service_settings
from slipway_bench.overhead import free_port
from slipway_bench.procfs import pin_tree, tree_cpu_seconds, tree_rss_bytes
from slipway_bench.server import HOST, child_pythonpath
from slipway_bench.server_times import InService, LogWindow
from slipway_bench.wrk import (
    WrkResult,
    render_script,
    resolve_wrk,
    run_wrk,
    write_script,
    wrk_command,
)

OPERATIONS = ("GET", "PUT", "PATCH", "LIST")
RUN_ORDER = ("GET", "LIST", "PUT", "PATCH")
"""Reads first: the writes leave outbox rows the service's relay works through afterwards."""
APPS = ("contexts", "limit")
NAMESPACES = {"contexts": "svc", "limit": "raw"}
SUBJECT = "bench"
KIND = "document"
CONTEXTS = 256
"""Seeded per app; GET, PUT and PATCH rotate over them, a page of the list has 50 of them."""
PAGE_SIZE = 50
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
MIB = 1024 * 1024

# ---------------------------------------------------------------------------------------------
# The wrk scripts: one per operation, written to a temporary file at run time.

_SAFE = re.compile(r"^[A-Za-z0-9._:-]+$")

_SCRIPT_HEAD = """
local counter = 0
local headers = {
  ["Authorization"] = "Bearer @TOKEN@",
  ["Content-Type"] = "@CONTENT_TYPE@",
}
"""

_REQUESTS = {
    "GET": """
request = function()
  counter = counter + 1
  return wrk.format("GET", string.format("/v1/contexts/@NAMESPACE@/c%d", counter % @CONTEXTS@),
    headers)
end
""",
    "LIST": """
request = function()
  return wrk.format("GET", "/v1/contexts/@NAMESPACE@?limit=@PAGE@", headers)
end
""",
    "PUT": """
request = function()
  counter = counter + 1
  local body = string.format(
    '{"kind":"document","body":{"content":"# Runbook\\\\n\\\\nput %d of run @NONCE@",'
    .. '"format":"markdown"},"labels":{"team":"bench","run":"@NONCE@"}}', counter)
  return wrk.format("PUT", string.format("/v1/contexts/@NAMESPACE@/c%d", counter % @CONTEXTS@),
    headers, body)
end
""",
    "PATCH": """
request = function()
  counter = counter + 1
  local body = string.format(
    '{"body":{"content":"# Runbook\\\\n\\\\npatch %d of run @NONCE@"}}', counter)
  return wrk.format("PATCH", string.format("/v1/contexts/@NAMESPACE@/c%d", counter % @CONTEXTS@),
    headers, body)
end
""",
}


def load_script(
    operation: str, *, namespace: str, token: str, nonce: str, contexts: int = CONTEXTS
) -> str:
    """The Lua source driving `operation`: distinct paths and bodies, plus the done() report."""
    if operation not in _REQUESTS:
        raise ValueError(f"unknown operation {operation!r}")
    if contexts < 1:
        raise ValueError("contexts must be >= 1")
    for name, value in {"namespace": namespace, "token": token, "nonce": nonce}.items():
        if not _SAFE.match(value):
            raise ValueError(f"{name} {value!r} has characters the Lua script cannot carry")
    content_type = "application/merge-patch+json" if operation == "PATCH" else "application/json"
    values = {
        "TOKEN": token,
        "CONTENT_TYPE": content_type,
        "NAMESPACE": namespace,
        "CONTEXTS": str(contexts),
        "PAGE": str(PAGE_SIZE),
        "NONCE": nonce,
    }
    return render_script(_SCRIPT_HEAD + _REQUESTS[operation], values)


def write_load_script(directory: Path, operation: str, **values: Any) -> Path:
    """Write `load_script(operation, ...)` into `directory`; its path, for `wrk --script`."""
    stem = f"slipway_contexts_{operation.lower()}"
    return write_script(directory, stem, load_script(operation, **values))


# ---------------------------------------------------------------------------------------------
# Results: one measurement per app and operation, the ratios to the limit, the table.


class Figures(Protocol):
    """What the table, the ratios and the goals read: one run, or the medians of rounds."""

    @property
    def requests_per_second(self) -> float: ...
    @property
    def p50_ms(self) -> float: ...
    @property
    def p99_ms(self) -> float: ...
    @property
    def error_count(self) -> int: ...
    @property
    def cpu_us_per_request(self) -> float | None: ...
    @property
    def rss_bytes(self) -> int: ...
    @property
    def in_service(self) -> InService | None: ...
    def as_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Measurement:
    """One measured wrk run against one app, with the server's CPU and memory."""

    wrk: WrkResult
    server_cpu_s: float
    rss_bytes: int
    in_service: InService | None = None
    """The service's own access lines of the run (`--server-times`), None otherwise."""

    @property
    def cpu_us_per_request(self) -> float | None:
        """Server CPU microseconds per completed request."""
        return self.server_cpu_s * 1e6 / self.wrk.requests if self.wrk.requests else None

    @property
    def requests_per_second(self) -> float:
        """wrk's completed requests per second."""
        return self.wrk.requests_per_second

    @property
    def p50_ms(self) -> float:
        """wrk's median latency."""
        return self.wrk.p50_ms

    @property
    def p99_ms(self) -> float:
        """wrk's 99th percentile latency."""
        return self.wrk.p99_ms

    @property
    def error_count(self) -> int:
        """wrk's errors and non-2xx/3xx answers."""
        return self.wrk.error_count

    def as_dict(self) -> dict[str, Any]:
        """The measurement as a JSON-ready dict."""
        cpu = self.cpu_us_per_request
        return {
            **self.wrk.as_dict(),
            "error_count": self.wrk.error_count,
            "server_cpu_s": round(self.server_cpu_s, 3),
            "server_cpu_share": round(self.server_cpu_s / self.wrk.duration_s, 3)
            if self.wrk.duration_s > 0
            else None,
            "cpu_us_per_request": None if cpu is None else round(cpu, 1),
            "rss_mib": round(self.rss_bytes / MIB, 1),
            **({} if self.in_service is None else {"in_service": self.in_service.as_dict()}),
        }


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


@dataclass(frozen=True)
class Rounds:
    """The measured runs of one app and operation, one per round: their medians."""

    runs: tuple[Measurement, ...]

    def __post_init__(self) -> None:
        if not self.runs:
            raise ValueError("no runs")

    @property
    def requests_per_second(self) -> float:
        """The median throughput."""
        return _median([m.requests_per_second for m in self.runs])

    @property
    def p50_ms(self) -> float:
        """The median of the runs' p50."""
        return _median([m.p50_ms for m in self.runs])

    @property
    def p99_ms(self) -> float:
        """The median of the runs' p99."""
        return _median([m.p99_ms for m in self.runs])

    @property
    def error_count(self) -> int:
        """The errors of every run, together: one failed request in any round counts."""
        return sum(m.error_count for m in self.runs)

    @property
    def cpu_us_per_request(self) -> float | None:
        """The median of the runs' CPU us per request."""
        values = [m.cpu_us_per_request for m in self.runs if m.cpu_us_per_request is not None]
        return _median(values) if values else None

    @property
    def rss_bytes(self) -> int:
        """The median RSS at the end of the runs."""
        return int(_median([m.rss_bytes for m in self.runs]))

    @property
    def pooled_cpu_us_per_request(self) -> float | None:
        """All the runs' CPU over all their requests (what a profile over them all saw)."""
        requests = sum(m.wrk.requests for m in self.runs)
        return sum(m.server_cpu_s for m in self.runs) * 1e6 / requests if requests else None

    @property
    def in_service(self) -> InService | None:
        """Every run's in-service durations pooled, None unless each run has them."""
        parts = [m.in_service for m in self.runs]
        return None if None in parts else InService.pooled(p for p in parts if p is not None)

    def as_dict(self) -> dict[str, Any]:
        """One run: its dict; several: the medians, each figure's [min, max] and every run."""
        if len(self.runs) == 1:
            return {**self.runs[0].as_dict(), "rounds": 1}
        in_service = self.in_service
        per_round = [m.as_dict() for m in self.runs]
        spread = {
            key: [min(values), max(values)]
            for key in SPREAD_KEYS
            if None not in (values := [run[key] for run in per_round])
        }
        cpu = self.cpu_us_per_request
        return {
            "requests_per_second": round(self.requests_per_second, 1),
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "error_count": self.error_count,
            "cpu_us_per_request": None if cpu is None else round(cpu, 1),
            "rss_mib": round(self.rss_bytes / MIB, 1),
            "rounds": len(self.runs),
            "range": spread,
            **({} if in_service is None else {"in_service": in_service.as_dict()}),
            "per_round": per_round,
        }


SPREAD_KEYS = ("requests_per_second", "p50_ms", "p99_ms", "cpu_us_per_request", "rss_mib")


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """`numerator / denominator`, or None when either is missing or the denominator is not > 0."""
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def ratios(app: Figures, limit: Figures) -> dict[str, float | None]:
    """`app` as multiples of the limit: throughput, p50, p99 and CPU per request."""
    values = {
        "throughput": ratio(app.requests_per_second, limit.requests_per_second),
        "p50": ratio(app.p50_ms, limit.p50_ms),
        "p99": ratio(app.p99_ms, limit.p99_ms),
        "cpu_per_request": ratio(app.cpu_us_per_request, limit.cpu_us_per_request),
    }
    return {k: None if v is None else round(v, 3) for k, v in values.items()}


def _x(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}x"


def format_table(results: Mapping[tuple[str, str], Figures]) -> str:
    """app x operation: req/s, p50, p99, errors, CPU µs/req, RSS, and the ratios to the limit."""
    lines = [
        f"{'op':<7}{'app':<10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'cpu us/req':>12}{'rss MiB':>9}{'x req/s':>9}{'x p99':>8}{'x cpu':>8}"
    ]
    for operation in OPERATIONS:
        limit = results.get((operation, "limit"))
        for app in APPS:
            m = results.get((operation, app))
            if m is None:
                continue
            r = ratios(m, limit) if limit is not None else {}
            cpu = m.cpu_us_per_request
            lines.append(
                f"{operation:<7}{app:<10}{m.requests_per_second:>9.0f}{m.p50_ms:>9.2f}"
                f"{m.p99_ms:>9.2f}{m.error_count:>8}"
                f"{'n/a' if cpu is None else f'{cpu:.0f}':>12}{m.rss_bytes / MIB:>9.1f}"
                f"{_x(r.get('throughput'), 3):>9}{_x(r.get('p99'), 2):>8}"
                f"{_x(r.get('cpu_per_request'), 2):>8}"
            )
    return "\n".join(lines)


def in_service_rows(
    results: Mapping[tuple[str, str], Figures],
) -> list[tuple[str, InService, float, float]]:
    """The service's in-service durations per operation, with wrk's p50 and p99 beside them
    (`server_times.format_table`'s rows); none without `--server-times`."""
    rows = []
    for operation in OPERATIONS:
        m = results.get((operation, "contexts"))
        if m is not None and m.in_service is not None:
            rows.append((operation, m.in_service, m.p50_ms, m.p99_ms))
    return rows


# Goals of issue 13, item 2: reported, not enforced.
GOALS = {"GET": 0.6, "PUT": 0.5}
GOAL_P99_RATIO = 2.0


def goal_lines(results: Mapping[tuple[str, str], Figures]) -> list[str]:
    """One line per operation with a throughput goal: met or missed, and by how much."""
    lines = []
    for operation, share in GOALS.items():
        app, limit = results.get((operation, "contexts")), results.get((operation, "limit"))
        if app is None or limit is None:
            continue
        r = ratios(app, limit)
        met = (
            r["throughput"] is not None
            and r["throughput"] >= share
            and r["p99"] is not None
            and r["p99"] <= GOAL_P99_RATIO
            and app.error_count == 0
        )
        lines.append(
            f"goal {operation} >= {share}x limit, p99 <= {GOAL_P99_RATIO}x, no errors:"
            f" {_x(r['throughput'], 3)}, p99 {_x(r['p99'], 2)},"
            f" {app.error_count} errors -> {'MET' if met else 'MISSED'}"
        )
    return lines


# ---------------------------------------------------------------------------------------------
# The servers and the load.


def dev_token(subject: str = SUBJECT) -> str:
    """A development HS256 token the service's embedded auth default accepts."""
    return mint_token(
        hs256_signing_key(DEV_HS256_SECRET),
        issuer=DEV_ISSUER,
        audience=DEV_AUDIENCE,
        subject=subject,
        scopes=[READ_SCOPE, WRITE_SCOPE],
        expires_in=3600,
    )


def _pin(cpus: set[int] | None) -> Any:
    return None if cpus is None else lambda: os.sched_setaffinity(0, cpus)


def _log_tail(log: Path) -> str:
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-20:])


def _wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited {process.returncode}:\n{_log_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.25)
    raise RuntimeError(f"{url} was not ready within 90s:\n{_log_tail(log)}")


@dataclass(frozen=True)
class Served:
    """A started server: where it listens and its process id."""

    base_url: str
    pid: int
    log: Path | None = None
    access_log: Path | None = None
    """The file its stdout (JSON log, access lines) goes to, when it is kept."""


@contextmanager
def running_limit(
    dsn: str, pool_size: int, workdir: Path, *, cpus: set[int] | None, workers: int = 1
) -> Iterator[Served]:
    """Serve the limit app in a subprocess (`workers` uvicorn workers) pinned to `cpus`."""
    port = free_port()
    log = workdir / "limit.stderr.log"
    env = {**os.environ, "PYTHONPATH": child_pythonpath()}
    command = [sys.executable, "-m", limit_app.__name__, "--port", str(port)]
    with log.open("wb") as stderr:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [*command, "--dsn", dsn, "--pool-size", str(pool_size), "--workers", str(workers)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=env,
            preexec_fn=_pin(cpus),
        )
    base_url = f"http://{HOST}:{port}"
    try:
        _wait_until_ready(f"{base_url}/ready", process, log)
        yield Served(base_url, process.pid, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def seed(served: Served, namespace: str, token: str, contexts: int = CONTEXTS) -> None:
    """Create the contexts every operation works on (c0 .. c<contexts - 1>)."""
    base_url = served.base_url
    headers = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30.0) as client:
        for index in range(contexts):
            payload = {
                "kind": KIND,
                "body": {"content": f"# Runbook {index}\n\nseeded", "format": "markdown"},
                "labels": {"team": "bench"},
            }
            response = client.put(f"/v1/contexts/{namespace}/c{index}", json=payload)
            if response.status_code not in (200, 201):
                raise RuntimeError(
                    f"seeding {base_url} answered {response.status_code}:"
                    f" {response.text[:300]}"
                    + ("" if served.log is None else f"\n{_log_tail(served.log)}")
                )


def measure(
    served: Served,
    command: list[str],
    *,
    load_cpu: int | None,
    recording: profile.Recording | None = None,
) -> tuple[Measurement, Counter[str]]:
    """One wrk run with the server's CPU over it, its RSS at the end, the stacks recorded.

    CPU and RSS are of the server's process tree (a supervisor and its workers)."""
    before = tree_cpu_seconds(served.pid)
    result = run_wrk(command, cpu=load_cpu)
    used = tree_cpu_seconds(served.pid) - before
    stacks = Counter[str]() if recording is None else recording.finish()
    return Measurement(wrk=result, server_cpu_s=used, rss_bytes=tree_rss_bytes(served.pid)), stacks


@dataclass
class Measured:
    """Every round of one operation on one app, and the stacks profiled over them."""

    runs: list[Measurement]
    stacks: Counter[str]


def measure_operation(
    operation: str,
    servers: Mapping[str, Served],
    args: argparse.Namespace,
    workdir: Path,
    *,
    token: str,
    load_cpu: int | None,
) -> dict[str, Measured]:
    """`args.rounds` times: a warm-up and a measured run of `operation` on each app in turn."""
    results = {app: Measured(runs=[], stacks=Counter()) for app in APPS}
    for round_number in range(1, args.rounds + 1):
        for app in APPS:
            served = servers[app]
            script = write_load_script(
                workdir,
                operation,
                namespace=NAMESPACES[app],
                token=token,
                nonce=f"{app}-{secrets.token_hex(4)}",
            )
            common: dict[str, Any] = {"script": script, "connections": args.concurrency}
            if args.warmup > 0:
                run_wrk(
                    wrk_command(args.wrk, served.base_url, duration_s=args.warmup, **common),
                    cpu=load_cpu,
                )
            recording = None
            if args.profile is not None:
                output = workdir / f"{operation.lower()}-{app}.round{round_number}.txt"
                recording = profile.start_recording(
                    profile.pyspy_command(
                        args.pyspy,
                        served.pid,
                        output,
                        duration_s=args.duration,
                        rate=args.profile_rate,
                        subprocesses=args.workers > 1,
                    ),
                    output,
                    cpu=load_cpu,
                )
            window = None if served.access_log is None else LogWindow.start(served.access_log)
            m, stacks = measure(
                served,
                wrk_command(args.wrk, served.base_url, duration_s=args.duration, **common),
                load_cpu=load_cpu,
                recording=recording,
            )
            if window is not None:
                m = replace(m, in_service=window.finish())
            results[app].runs.append(m)
            results[app].stacks.update(stacks)
            rounds = f" r{round_number}/{args.rounds}" if args.rounds > 1 else ""
            print(
                f"{operation:<6} {app:<9}{rounds} {m.wrk.requests_per_second:>8.0f} req/s"
                f"  p50 {m.wrk.p50_ms:.2f} ms  p99 {m.wrk.p99_ms:.2f} ms"
                f"  errors {m.wrk.error_count}  cpu {m.cpu_us_per_request or 0:.0f} us/req"
                + (f"  {sum(stacks.values())} samples" if recording is not None else ""),
                flush=True,
            )
    return results


def measure_fan_out(
    served: Served, args: argparse.Namespace, workdir: Path, *, load_cpu: int | None
) -> dict[str, Any]:
    """SSE fan-out on the service: the latency benchmark's subscribers and paced writer."""
    options = argparse.Namespace(
        rate=args.sse_rate,
        duration=args.duration,
        subscribers=args.sse_subscribers,
        connections=1,  # one writer
        wrk=args.wrk,
        load_cpu=load_cpu,
        drain=2.0,
    )
    result, writes, statuses, server_cpu = events_latency.measure(
        "contexts", served.base_url, served.pid, options, workdir
    )
    deliveries = result.events_received
    report = {
        "subscribers": result.subscribers,
        "target_writes_per_second": args.sse_rate,
        "writes_per_second": round(result.writes_per_second, 1),
        "write_errors": result.write_errors,
        "events_received": deliveries,
        "duplicates": result.duplicates,
        "lost": result.lost,
        "delivery_latency_ms": {
            "p50": round(result.p50_ms, 3),
            "p90": round(result.p90_ms, 3),
            "p99": round(result.p99_ms, 3),
            "max": round(result.max_ms, 3),
        },
        "put_p50_ms": writes.p50_ms,
        "put_p99_ms": writes.p99_ms,
        "put_statuses": {str(status): count for status, count in sorted(statuses.items())},
        "server_cpu_s": round(server_cpu, 3),
        "server_cpu_share": round(server_cpu / writes.duration_s, 3)
        if writes.duration_s > 0
        else None,
        "server_cpu_us_per_delivery": round(server_cpu * 1e6 / deliveries, 1)
        if deliveries
        else None,
        "rss_mib": round(tree_rss_bytes(served.pid) / MIB, 1),
        "limit": "none: the limit app has no event stream (a bare LISTEN/NOTIFY fan-out was"
        " left out)",
    }
    print(
        f"SSE    contexts  {result.subscribers} subscribers, {result.writes_per_second:.1f}"
        f" writes/s, {deliveries} deliveries, lost {result.lost}, latency p50"
        f" {result.p50_ms:.1f} ms p99 {result.p99_ms:.1f} ms, server CPU"
        f" {report['server_cpu_share']} of a core",
        flush=True,
    )
    return report


# ---------------------------------------------------------------------------------------------
# The run.


VERSIONS_QUERY = "SELECT namespace, count(*) AS versions FROM context_versions GROUP BY namespace"


async def versions_by_namespace(dsn: str) -> dict[str, int]:
    """How many versions each namespace holds: proof that the writes wrote."""
    connection = await asyncpg.connect(dsn)
    try:
        return {row["namespace"]: row["versions"] for row in await connection.fetch(VERSIONS_QUERY)}
    finally:
        await connection.close()


async def _admin(admin_url: str, statement: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _with_database(url: str, database: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{database}"


def _cpus(args: argparse.Namespace) -> tuple[set[int] | None, int | None, str]:
    available = os.sched_getaffinity(0)
    servers = set(args.server_cpus)
    if servers | {args.load_cpu} <= available and args.load_cpu not in servers:
        return (
            servers,
            args.load_cpu,
            f"servers ({args.workers} worker{'s' if args.workers > 1 else ''} each) pinned to"
            f" core{'s' if len(servers) > 1 else ''} {','.join(map(str, sorted(servers)))},"
            f" wrk{', py-spy' if args.profile else ''} and the SSE subscribers to core"
            f" {args.load_cpu}; PostgreSQL unpinned (shares both)",
        )
    note = (
        f"cores {','.join(map(str, sorted(servers)))}/{args.load_cpu} unavailable or"
        " overlapping: nothing is pinned"
    )
    print(f"warning: {note}")
    return None, None, note


def _cpu_list(text: str) -> list[int]:
    try:
        cpus = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of cores like 0 or 0,2") from None
    if not cpus or min(cpus) < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of cores like 0 or 0,2")
    return cpus


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line options."""
    service_pool = DatabaseSettings()
    parser = argparse.ArgumentParser(prog="contexts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=8, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up before each")
    parser.add_argument("--concurrency", type=int, default=32, help="wrk connections")
    parser.add_argument(
        "--pool-size",
        type=int,
        default=service_pool.pool_size + service_pool.max_overflow,
        help="the limit's connections (default: the service's cap, pool_size + max_overflow)",
    )
    parser.add_argument("--sse-subscribers", type=int, default=100, help="SSE streams")
    parser.add_argument("--sse-rate", type=float, default=20.0, help="SSE writer PUTs/s")
    parser.add_argument("--skip-sse", action="store_true", help="no SSE fan-out phase")
    parser.add_argument(
        "--server-times",
        action="store_true",
        help="keep the service's JSON log (not /dev/null) and report the time each operation's"
        " requests spent inside it, from its access lines, beside wrk's latency",
    )
    parser.add_argument(
        "--admin-url", default=DEFAULT_ADMIN_URL, help="where to create the throwaway database"
    )
    parser.add_argument("--server-cpu", type=int, default=0, help="core for both servers")
    parser.add_argument(
        "--server-cpus",
        type=_cpu_list,
        default=None,
        help="cores for both servers' workers, e.g. 0 or 0,2 (default: --server-cpu)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes per app on one port (contexts: its web.workers setting)",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="contexts/limit alternations per operation"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="record each measured run with py-spy: collapsed stacks into DIR and a breakdown"
        " of the CPU per request",
    )
    parser.add_argument("--profile-rate", type=int, default=profile.DEFAULT_RATE, help="Hz")
    parser.add_argument("--pyspy", default="py-spy", help="the py-spy executable")
    parser.add_argument("--load-cpu", type=int, default=1, help="core for wrk and subscribers")
    parser.add_argument(
        "--redis-url",
        default=None,
        help=f"the service's Redis (default: none for one worker, {DEFAULT_REDIS_URL} for more)",
    )
    parser.add_argument("--wrk", default="wrk", help="the wrk executable")
    parser.add_argument("--json-out", type=Path, default=Path("dist/bench/contexts.json"))
    args = parser.parse_args(argv)
    if min(args.concurrency, args.duration, args.pool_size, args.sse_subscribers, args.workers) < 1:
        parser.error("concurrency, duration, pool size, subscribers and workers must be >= 1")
    if args.rounds < 1 or args.profile_rate < 1:
        parser.error("rounds and the profile rate must be >= 1")
    if args.server_cpus is None:
        args.server_cpus = [args.server_cpu]
    if args.warmup < 0 or args.sse_rate <= 0:
        parser.error("warm-up must be >= 0, the SSE rate > 0")
    return args


@contextmanager
def _serve_both(
    args: argparse.Namespace, dsn: str, workdir: Path, cpus: set[int] | None
) -> Iterator[dict[str, Served]]:
    """Start the service and the limit (each `args.workers` workers) pinned to `cpus`."""
    database_url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    redis_url, prefix = _redis_for(args)
    settings = dict(service_settings(free_port(), database_url, redis_url, prefix))
    if args.workers != 1:  # engineer G's setting: SettingMissingError names it until it exists
        settings[("web", "workers")] = str(args.workers)
    single = next(iter(cpus)) if cpus is not None and len(cpus) == 1 else None
    access_log = workdir / "contexts.stdout.log" if args.server_times else None
    with running_service(settings, workdir, cpu=single, stdout=access_log) as service:
        contexts = Served(
            service.base_url, service.pid, workdir / "contexts.stderr.log", access_log
        )
        with running_limit(dsn, args.pool_size, workdir, cpus=cpus, workers=args.workers) as limit:
            servers = {"contexts": contexts, "limit": limit}
            if cpus is not None:  # the workers started before /ready answered
                for served in servers.values():
                    pin_tree(served.pid, cpus)
            yield servers


def _redis_for(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """The service's Redis and event stream prefix: none for one worker unless asked for.

    Several workers need Redis (the service refuses an in-memory rate limit then): the rate
    limit, idempotency and the event stream shared by all of them."""
    redis_url = args.redis_url or (DEFAULT_REDIS_URL if args.workers > 1 else None)
    if redis_url is None:
        return None, None
    has_prefix = has_setting(Settings, "events", "stream_prefix")
    return redis_url, f"bench:contexts:{os.getpid()}:" if has_prefix else None


async def _delete_streams(redis_url: str, prefix: str) -> None:
    client = redis_asyncio.Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def write_profiles(
    directory: Path, measured: Mapping[tuple[str, str], Measured]
) -> dict[str, dict[str, profile.Breakdown]]:
    """Write each (operation, app)'s collapsed stacks into `directory`; the breakdowns."""
    directory.mkdir(parents=True, exist_ok=True)
    breakdowns: dict[str, dict[str, profile.Breakdown]] = {}
    for (operation, app), m in measured.items():
        path = directory / f"{operation.lower()}-{app}.collapsed.txt"
        path.write_text(profile.format_collapsed(m.stacks), encoding="utf-8")
        cpu = Rounds(tuple(m.runs)).pooled_cpu_us_per_request
        breakdowns.setdefault(operation, {})[app] = profile.Breakdown.of(m.stacks, cpu)
    return breakdowns


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Create the database, serve both apps, measure every operation; the JSON report."""
    name = f"contexts_bench_{os.getpid()}"
    dsn = _with_database(args.admin_url, name)
    server_cpus, load_cpu, pinning = _cpus(args)
    token = dev_token()
    measured: dict[tuple[str, str], Measured] = {}
    fan_out: dict[str, Any] | None = None
    versions: dict[str, int] = {}
    asyncio.run(_admin(args.admin_url, f'CREATE DATABASE "{name}"'))
    try:
        with tempfile.TemporaryDirectory(prefix="slipway-bench-") as tmp:
            workdir = Path(tmp)
            with _serve_both(args, dsn, workdir, server_cpus) as servers:
                for app, served in servers.items():
                    seed(served, NAMESPACES[app], token)
                for operation in RUN_ORDER:
                    runs = measure_operation(
                        operation, servers, args, workdir, token=token, load_cpu=load_cpu
                    )
                    for app, m in runs.items():
                        measured[(operation, app)] = m
                versions = asyncio.run(versions_by_namespace(dsn))
                if not args.skip_sse:
                    fan_out = measure_fan_out(servers["contexts"], args, workdir, load_cpu=load_cpu)
                    if args.workers > 1:
                        fan_out["server_cpu_note"] = SSE_CPU_OF_THE_SUPERVISOR
    finally:
        asyncio.run(_admin(args.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        redis_url, prefix = _redis_for(args)
        if redis_url is not None and prefix is not None:
            asyncio.run(_delete_streams(redis_url, prefix))
    results = {key: Rounds(tuple(m.runs)) for key, m in measured.items()}
    print()
    if args.rounds > 1:
        print(f"medians of {args.rounds} rounds (each figure's min-max in the JSON)")
    print(format_table(results))
    for line in goal_lines(results):
        print(line)
    times = in_service_rows(results)
    if times:
        print()
        print(server_times.format_table(times))
    profiles = None
    if args.profile is not None:
        profiles = write_profiles(args.profile, measured)
        print()
        print(
            f"py-spy at {args.profile_rate} Hz; us/req = share of the samples x the measured CPU"
            f" us/req; collapsed stacks in {args.profile}/"
        )
        for operation in OPERATIONS:
            if operation in profiles:
                print(profile.format_breakdown(operation, profiles[operation]))
                print()
    print(f"versions stored by namespace after the writes: {versions}")
    print(f"note: {pinning}")
    return {
        **report(args, results, fan_out, pinning=pinning, profiles=profiles),
        "versions_stored": versions,
    }


SSE_CPU_OF_THE_SUPERVISOR = (
    "events_latency.measure reads the CPU of the supervisor process only, not its workers'"
)


def report(
    args: argparse.Namespace,
    results: Mapping[tuple[str, str], Figures],
    fan_out: Mapping[str, Any] | None,
    *,
    pinning: str,
    profiles: Mapping[str, Mapping[str, profile.Breakdown]] | None = None,
) -> dict[str, Any]:
    """The JSON report of a run."""
    return {
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "wrk": f"wrk -t1 -c{args.concurrency}",
            "limit_pool_size": args.pool_size,
            "workers_per_app": args.workers,
            "rounds": args.rounds,
            "profile_rate_hz": args.profile_rate if args.profile is not None else None,
            "contexts_seeded_per_app": CONTEXTS,
            "page_size": PAGE_SIZE,
            "sse_subscribers": args.sse_subscribers,
            "sse_writes_per_second": args.sse_rate,
            "pinning": pinning,
            "server_times": "the service's stdout kept, in-service times from its access lines"
            if args.server_times
            else None,
            "contexts": "python -m contexts.main: PostgreSQL, migrations at start-up, dev HS256"
            " auth, JSON logs, rate limit on (unreachable), "
            + (f"Redis {_redis_for(args)[0]}" if _redis_for(args)[0] else "no Redis"),
            "limit": "slipway_bench.limit_app: FastAPI + raw asyncpg pool, the adapter's SQL",
        },
        "machine": {
            "python": sys.version.split()[0],
            "platform": host_platform.platform(),
            "cpus": os.cpu_count(),
        },
        "results": {
            operation: {
                app: results[(operation, app)].as_dict()
                for app in APPS
                if (operation, app) in results
            }
            for operation in OPERATIONS
        },
        "contexts_over_limit": {
            operation: ratios(results[(operation, "contexts")], results[(operation, "limit")])
            for operation in OPERATIONS
            if (operation, "contexts") in results and (operation, "limit") in results
        },
        "sse_fan_out": fan_out,
        "profile": None
        if profiles is None
        else {
            operation: {
                app: {
                    **breakdown.as_dict(),
                    "collapsed": str(args.profile / f"{operation.lower()}-{app}.collapsed.txt"),
                }
                for app, breakdown in by_app.items()
            }
            for operation, by_app in profiles.items()
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 2 when wrk is missing or the run failed, else 0."""
    args = parse_args(None if argv is None else list(argv))
    if not resolve_wrk(args):
        return 2
    if args.profile is not None:
        pyspy = shutil.which(args.pyspy)
        if pyspy is None:
            print(profile.PYSPY_MISSING, file=sys.stderr)
            return 2
        args.pyspy = pyspy
    try:
        result = benchmark(args)
    except (
        RuntimeError,
        ValueError,
        OSError,
        asyncpg.PostgresError,
        httpx.HTTPError,
        redis_asyncio.RedisError,
    ) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
