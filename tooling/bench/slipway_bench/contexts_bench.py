"""The contexts service on PostgreSQL against the same database work done with raw asyncpg.

`./pants run tooling/bench:contexts -- --duration 5 --concurrency 16` creates a throwaway
database on the PostgreSQL at 127.0.0.1:5432, then measures, one after the other:

- **service**: the real contexts service (`contexts.main.build_app`, migrations at start-up,
  no Redis) under uvicorn in a subprocess, driven over HTTP/1.1 keep-alive by `--concurrency`
  httpx workers in this process: `PUT /v1/contexts/svc/w<i>` (each worker replaces its own
  context with a new body, so every PUT appends a version) and `GET` of those contexts;
- **ceiling**: the same database work for the same operations straight through an asyncpg
  pool from this process, with the same concurrency and connection cap: for PUT the adapter's
  transaction (latest version, version row, pointer, labels, audit row, outbox row), for GET
  its one SELECT.

Each phase has a warm-up before it. The table gives req/s, p50 and p99, the service/ceiling
ratios, and CPU per request of the server, this process and PostgreSQL; the JSON report goes
to `--json-out`. The load generator shares the machine's cores with the server and the
database: see docs/performance.md, "Contexts service on PostgreSQL".
"""

import argparse
import asyncio
import hashlib
import importlib.util
import itertools
import json
import math
import os
import platform as host_platform
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import httpx
import uvloop  # pants: no-infer-dep - installed by uvicorn[standard] (slipway_bench.server)
from sqlalchemy.engine import make_url

from contexts.domain.policy import READ_SCOPE, WRITE_SCOPE
from contexts.settings import DEV_AUDIENCE, DEV_HS256_SECRET, DEV_ISSUER
from slipway.auth.testing import hs256_signing_key, mint_token
from slipway.db import DatabaseSettings
from slipway_bench import contexts_server
from slipway_bench.overhead import free_port
from slipway_bench.server import HOST

OPERATIONS = ("PUT", "GET")
PATHS = ("service", "ceiling")
SUBJECT = "bench"
SERVICE_NAMESPACE = "svc"
CEILING_NAMESPACE = "raw"
KIND = "document"
SCHEMA_VERSION = 1
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SHARED_CORES_NOTE = (
    "the load generator (this process, also the ceiling's client) shares the machine's {cpus} "
    "cores with the server and PostgreSQL: nothing is pinned"
)

# ---------------------------------------------------------------------------------------------
# Pure parts: percentiles, summaries, ratios, the table.


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (`fraction` in [0, 1]) of ascending `sorted_values`."""
    if not sorted_values:
        raise ValueError("no values")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction {fraction} is outside [0, 1]")
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class Measurement:
    """One measured phase: one operation on one path."""

    requests: int
    errors: int
    elapsed_s: float
    requests_per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    cpu_ms_per_request: Mapping[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The measurement as a JSON-ready dict."""
        return {
            "requests": self.requests,
            "errors": self.errors,
            "elapsed_s": round(self.elapsed_s, 3),
            "requests_per_second": round(self.requests_per_second, 1),
            "p50_ms": round(self.p50_ms, 3),
            "p90_ms": round(self.p90_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "max_ms": round(self.max_ms, 3),
            "cpu_ms_per_request": {k: round(v, 3) for k, v in self.cpu_ms_per_request.items()},
        }


def summarize(
    latencies_ms: Sequence[float],
    *,
    errors: int,
    elapsed_s: float,
    cpu_seconds: Mapping[str, float] | None = None,
) -> Measurement:
    """Throughput, latency percentiles and CPU per request of a phase's requests."""
    if not latencies_ms:
        raise ValueError("no requests completed")
    if elapsed_s <= 0:
        raise ValueError("elapsed time must be positive")
    ordered = sorted(latencies_ms)
    count = len(ordered)
    return Measurement(
        requests=count,
        errors=errors,
        elapsed_s=elapsed_s,
        requests_per_second=count / elapsed_s,
        p50_ms=percentile(ordered, 0.50),
        p90_ms=percentile(ordered, 0.90),
        p99_ms=percentile(ordered, 0.99),
        max_ms=ordered[-1],
        cpu_ms_per_request={
            name: seconds * 1000 / count for name, seconds in (cpu_seconds or {}).items()
        },
    )


def ratio(numerator: float, denominator: float) -> float | None:
    """`numerator / denominator`, or None when the denominator is not positive."""
    return numerator / denominator if denominator > 0 else None


@dataclass(frozen=True)
class Ratios:
    """service / ceiling for one operation."""

    throughput: float | None
    p50: float | None
    p99: float | None

    def as_dict(self) -> dict[str, float | None]:
        """The ratios as a JSON-ready dict."""
        return {
            "throughput": None if self.throughput is None else round(self.throughput, 3),
            "p50": None if self.p50 is None else round(self.p50, 3),
            "p99": None if self.p99 is None else round(self.p99, 3),
        }


def compare(service: Measurement, ceiling: Measurement) -> Ratios:
    """The service's throughput and latencies as multiples of the ceiling's."""
    return Ratios(
        throughput=ratio(service.requests_per_second, ceiling.requests_per_second),
        p50=ratio(service.p50_ms, ceiling.p50_ms),
        p99=ratio(service.p99_ms, ceiling.p99_ms),
    )


def _times(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}x"


def format_table(results: Mapping[tuple[str, str], Measurement]) -> str:
    """The results by (operation, path), with a service/ceiling ratio row per operation."""
    header = (
        f"{'operation':<10}{'path':<17}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'cpu ms/req (server+client+postgres)':>38}"
    )
    lines = [header]
    for operation in OPERATIONS:
        for path in PATHS:
            m = results.get((operation, path))
            if m is None:
                continue
            cpu = m.cpu_ms_per_request
            cpu_text = " + ".join(
                f"{cpu[name]:.3f}" for name in ("server", "client", "postgres") if name in cpu
            )
            lines.append(
                f"{operation:<10}{path:<17}{m.requests_per_second:>9.0f}{m.p50_ms:>9.2f}"
                f"{m.p99_ms:>9.2f}{m.errors:>8}{cpu_text:>38}"
            )
        service, ceiling = results.get((operation, "service")), results.get((operation, "ceiling"))
        if service is not None and ceiling is not None:
            r = compare(service, ceiling)
            lines.append(
                f"{operation:<10}{'service/ceiling':<17}{_times(r.throughput, 3):>9}"
                f"{_times(r.p50, 2):>9}{_times(r.p99, 2):>9}"
            )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# CPU accounting from /proc (Linux): the server process, this process, PostgreSQL's processes.

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (0.0 if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


BACKENDS_QUERY = (
    "SELECT pid FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


@dataclass(frozen=True)
class CpuMonitor:
    """CPU seconds of the server process, this process and the benchmark database's backends.

    Only the backends connected to the throwaway database count, so other work on the shared
    PostgreSQL does not; a backend that exits during a phase takes its CPU time with it.
    """

    dsn: str
    server_pid: int | None = None

    async def snapshot(self) -> tuple[dict[str, float], dict[int, float]]:
        """CPU seconds so far: by process name, and by PostgreSQL backend pid."""
        connection = await asyncpg.connect(self.dsn)
        try:
            pids = [row["pid"] for row in await connection.fetch(BACKENDS_QUERY)]
        finally:
            await connection.close()
        processes = {"client": time.process_time()}
        if self.server_pid is not None:
            processes["server"] = process_cpu_seconds(self.server_pid)
        return processes, {pid: process_cpu_seconds(pid) for pid in pids}

    @staticmethod
    def used(
        before: tuple[dict[str, float], dict[int, float]],
        after: tuple[dict[str, float], dict[int, float]],
    ) -> dict[str, float]:
        """CPU seconds spent between two snapshots, by server, client and postgres."""
        used = {name: after[0][name] - before[0][name] for name in after[0]}
        used["postgres"] = sum(cpu - before[1].get(pid, 0.0) for pid, cpu in after[1].items())
        return used


# ---------------------------------------------------------------------------------------------
# The load: `concurrency` workers calling one operation in a loop for a fixed time.

Operation = Callable[[int], Awaitable[bool]]
"""Runs one request as worker `i`; True when it got the expected answer."""


async def drive(
    operation: Operation, *, concurrency: int, duration_s: float, monitor: CpuMonitor
) -> Measurement:
    """Run `operation` from `concurrency` workers for `duration_s`; its measurement."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration_s

    async def worker(index: int) -> None:
        nonlocal errors
        clock = time.perf_counter
        while clock() < deadline:
            started = clock()
            try:
                ok = await operation(index)
            except (httpx.HTTPError, asyncpg.PostgresError, OSError):
                ok = False
            latencies.append((clock() - started) * 1000)
            if not ok:
                errors += 1

    before = await monitor.snapshot()
    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    used = CpuMonitor.used(before, await monitor.snapshot())
    return summarize(latencies, errors=errors, elapsed_s=elapsed, cpu_seconds=used)


async def measure(
    operation: Operation, args: argparse.Namespace, monitor: CpuMonitor, label: str
) -> Measurement:
    """A warm-up run, then the measured run, of one operation."""
    if args.warmup > 0:
        await drive(
            operation, concurrency=args.concurrency, duration_s=args.warmup, monitor=monitor
        )
    result = await drive(
        operation, concurrency=args.concurrency, duration_s=args.duration, monitor=monitor
    )
    print(
        f"{label:<12} {result.requests_per_second:>8.0f} req/s  p50 {result.p50_ms:.2f} ms"
        f"  p99 {result.p99_ms:.2f} ms  errors {result.errors}",
        flush=True,
    )
    return result


def document_body(sequence: int, worker: int) -> dict[str, Any]:
    """A `document` body that differs on every call, so each PUT appends a version."""
    return {
        "content": f"# Runbook {worker}\n\nRevision {sequence}: restart the relay, then check it.",
        "format": "markdown",
    }


def bench_labels(worker: int) -> dict[str, str]:
    """The labels every benchmark context carries (replaced on each PUT)."""
    return {"team": "bench", "worker": f"w{worker}"}


# ---------------------------------------------------------------------------------------------
# The service over HTTP.


def dev_token() -> str:
    """A development HS256 token the service's embedded auth default accepts."""
    return mint_token(
        hs256_signing_key(DEV_HS256_SECRET),
        issuer=DEV_ISSUER,
        audience=DEV_AUDIENCE,
        subject=SUBJECT,
        scopes=[READ_SCOPE, WRITE_SCOPE],
        expires_in=3600,
    )


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


@contextmanager
def running_service(database_url: str, workdir: Path) -> Iterator[tuple[str, int]]:
    """Serve the contexts service in a subprocess; yields its base URL and process id."""
    port = free_port()
    log = workdir / "contexts.stderr.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    command = [sys.executable, "-m", contexts_server.__name__, "--port", str(port)]
    with log.open("wb") as stderr:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [*command, "--database-url", database_url],
            stdout=subprocess.DEVNULL,  # the JSON access log: rendered, discarded
            stderr=stderr,
            env=env,
        )
    base_url = f"http://{HOST}:{port}"
    try:
        _wait_until_ready(f"{base_url}/ready", process, log)
        yield base_url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _skip_sniffio_lookups() -> None:
    """Make httpcore's per-request `import sniffio` fail at once when sniffio is not installed.

    httpcore asks `import sniffio` on every request (through `AsyncShieldCancellation` and
    friends) to tell asyncio from trio; when the package is missing, each failed import walks
    the import system: ~2 ms of the load generator's CPU per request in a zipapp pex on this
    machine. A `None` entry in `sys.modules` fails the same import immediately with the same
    outcome (asyncio), so the client's CPU goes to HTTP, not to import lookups.
    """
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


async def measure_service(
    base_url: str, monitor: CpuMonitor, args: argparse.Namespace
) -> dict[str, Measurement]:
    """PUT then GET through the service's HTTP API."""
    _skip_sniffio_lookups()
    counter = itertools.count()
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    headers = {"authorization": f"Bearer {dev_token()}"}
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, limits=limits, timeout=30.0
    ) as client:

        async def put(worker: int) -> bool:
            payload = {
                "kind": KIND,
                "body": document_body(next(counter), worker),
                "labels": bench_labels(worker),
            }
            response = await client.put(f"/v1/contexts/{SERVICE_NAMESPACE}/w{worker}", json=payload)
            return response.status_code in (200, 201)

        async def get(worker: int) -> bool:
            target = (worker + next(counter)) % args.concurrency
            response = await client.get(f"/v1/contexts/{SERVICE_NAMESPACE}/w{target}")
            return response.status_code == 200

        return {
            "PUT": await measure(put, args, monitor, "PUT service"),
            "GET": await measure(get, args, monitor, "GET service"),
        }


# ---------------------------------------------------------------------------------------------
# The ceiling: what `contexts.adapters.sql` does per request, as raw asyncpg statements.

SELECT_LATEST = (  # SqlContextRepository.get: the latest version, tombstones included
    "SELECT namespace, name, version, kind, schema_version, body, labels, owner, acl, deleted,"
    " etag, content_hash, created_at, updated_at, updated_by FROM context_versions"
    " WHERE namespace = $1 AND name = $2 ORDER BY version DESC LIMIT 1"
)
INSERT_VERSION = (  # SqlContextRepository.append
    "INSERT INTO context_versions (namespace, name, version, kind, schema_version, body, labels,"
    " owner, acl, deleted, etag, content_hash, created_at, updated_at, updated_by)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
)
INSERT_CURRENT = (  # ...version 1: the pointer row
    "INSERT INTO contexts_current (namespace, name, version, kind, deleted)"
    " VALUES ($1, $2, $3, $4, $5)"
)
MOVE_CURRENT = (  # ...later versions: the pointer moves from version - 1 only
    "UPDATE contexts_current SET version = $3, kind = $4, deleted = $5"
    " WHERE namespace = $1 AND name = $2 AND version = $6"
)
DELETE_LABELS = "DELETE FROM context_labels WHERE namespace = $1 AND name = $2"
INSERT_LABEL = "INSERT INTO context_labels (namespace, name, key, value) VALUES ($1, $2, $3, $4)"
INSERT_AUDIT = (  # SqlAuditLog.append
    "INSERT INTO audit_log (entry_id, actor, action, namespace, name, version, before_hash,"
    " after_hash, request_id, occurred_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
)
INSERT_OUTBOX = (  # SqlOutbox.add
    "INSERT INTO outbox (namespace, name, version, payload, created_at) VALUES ($1, $2, $3, $4, $5)"
)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def _set_json_codecs(connection: asyncpg.Connection) -> None:
    for json_type in ("json", "jsonb"):
        await connection.set_type_codec(
            json_type, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def _keep_session(connection: asyncpg.Connection) -> None:
    """The pool's reset hook: nothing (the service's pool only rolls back on return)."""


async def measure_ceiling(dsn: str, args: argparse.Namespace) -> dict[str, Measurement]:
    """PUT then GET as the SQL adapter's statements, straight through asyncpg."""
    counter = itertools.count()
    database = DatabaseSettings()
    server_settings = {"application_name": "contexts-bench-ceiling"}
    if database.statement_timeout_ms is not None:
        server_settings["statement_timeout"] = str(database.statement_timeout_ms)
    async with asyncpg.create_pool(
        dsn,
        min_size=args.pool_size,
        max_size=args.pool_size,
        init=_set_json_codecs,
        reset=_keep_session,
        server_settings=server_settings,
    ) as pool:

        async def put(worker: int) -> bool:
            ns, name = CEILING_NAMESPACE, f"w{worker}"
            body, labels = document_body(next(counter), worker), bench_labels(worker)
            async with pool.acquire() as connection, connection.transaction():
                previous = await connection.fetchrow(SELECT_LATEST, ns, name)
                now = datetime.now(UTC)
                owner = SUBJECT if previous is None else previous["owner"]
                acl = {"readers": [], "writers": []} if previous is None else previous["acl"]
                digest = _sha256(
                    _canonical(
                        {
                            "kind": KIND,
                            "schema_version": SCHEMA_VERSION,
                            "body": body,
                            "labels": labels,
                            "owner": owner,
                            "acl": acl,
                            "deleted": False,
                        }
                    )
                )
                live = previous is not None and not previous["deleted"]
                if live and previous["content_hash"] == digest:
                    return True  # the domain's no-op: the same content creates no version
                version = 1 if previous is None else previous["version"] + 1
                etag = f'"{_sha256(_canonical([ns, name, version, digest]))[:32]}"'
                created_at = previous["created_at"] if live else now
                await connection.execute(
                    INSERT_VERSION,
                    *(ns, name, version, KIND, SCHEMA_VERSION, body, labels, owner, acl),
                    *(False, etag, digest, created_at, now, SUBJECT),
                )
                if version == 1:
                    await connection.execute(INSERT_CURRENT, ns, name, 1, KIND, False)
                else:
                    moved = await connection.execute(
                        MOVE_CURRENT, ns, name, version, KIND, False, version - 1
                    )
                    if moved != "UPDATE 1":
                        raise asyncpg.PostgresError(f"version {version} of {ns}/{name} is taken")
                await connection.execute(DELETE_LABELS, ns, name)
                await connection.executemany(
                    INSERT_LABEL, [(ns, name, key, value) for key, value in labels.items()]
                )
                action = "updated" if live else "created"
                before_hash = None if previous is None else previous["content_hash"]
                await connection.execute(
                    INSERT_AUDIT,
                    *(uuid.uuid4(), SUBJECT, action, ns, name, version, before_hash, digest),
                    *(os.urandom(16).hex(), now),
                )
                event = {
                    "event_id": str(uuid.uuid4()),
                    "namespace": ns,
                    "name": name,
                    "version": version,
                    "action": action,
                    "etag": etag,
                    "occurred_at": now.isoformat(),
                    "actor": SUBJECT,
                }
                await connection.execute(INSERT_OUTBOX, ns, name, version, event, now)
            return True

        async def get(worker: int) -> bool:
            target = (worker + next(counter)) % args.concurrency
            row = await pool.fetchrow(SELECT_LATEST, CEILING_NAMESPACE, f"w{target}")
            return row is not None and not row["deleted"]

        monitor = CpuMonitor(dsn)
        return {
            "PUT": await measure(put, args, monitor, "PUT ceiling"),
            "GET": await measure(get, args, monitor, "GET ceiling"),
        }


# ---------------------------------------------------------------------------------------------
# The run: a throwaway database, the service, then the ceiling.


async def _admin(admin_url: str, statement: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _with_database(url: str, database: str, *, driver: str) -> str:
    parsed = make_url(url).set(drivername=driver, database=database)
    return parsed.render_as_string(hide_password=False)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line options."""
    service_pool = DatabaseSettings()
    parser = argparse.ArgumentParser(prog="contexts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up before each")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent workers")
    parser.add_argument(
        "--pool-size",
        type=int,
        default=service_pool.pool_size + service_pool.max_overflow,
        help="the ceiling's connections (default: the service's cap, pool_size + max_overflow)",
    )
    parser.add_argument(
        "--admin-url", default=DEFAULT_ADMIN_URL, help="where to create the throwaway database"
    )
    parser.add_argument("--json-out", type=Path, default=Path("dist/bench/contexts.json"))
    args = parser.parse_args(argv)
    if args.concurrency < 1 or args.duration <= 0 or args.warmup < 0 or args.pool_size < 1:
        parser.error("concurrency and pool size must be >= 1, duration > 0, warm-up >= 0")
    return args


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Create the database, measure both paths, drop the database; the JSON report."""
    name = f"contexts_bench_{os.getpid()}"
    service_url = _with_database(args.admin_url, name, driver="postgresql+asyncpg")
    ceiling_dsn = _with_database(args.admin_url, name, driver="postgresql")
    cpus = os.cpu_count()
    note = SHARED_CORES_NOTE.format(cpus=cpus)
    results: dict[tuple[str, str], Measurement] = {}
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_admin(args.admin_url, f'CREATE DATABASE "{name}"'))
        try:
            with (
                tempfile.TemporaryDirectory(prefix="slipway-bench-") as tmp,
                running_service(service_url, Path(tmp)) as (base_url, pid),
            ):
                monitor = CpuMonitor(ceiling_dsn, server_pid=pid)
                for operation, m in runner.run(measure_service(base_url, monitor, args)).items():
                    results[(operation, "service")] = m
            for operation, m in runner.run(measure_ceiling(ceiling_dsn, args)).items():
                results[(operation, "ceiling")] = m
        finally:
            runner.run(_admin(args.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print()
    print(format_table(results))
    print(f"note: {note}")
    return {
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "concurrency": args.concurrency,
            "ceiling_pool_size": args.pool_size,
            "http_client": "httpx.AsyncClient, HTTP/1.1 keep-alive, uvloop",
            "server": "contexts.main.build_app under slipway.web.build_server (uvicorn, uvloop,"
            " httptools, one process), migrations at start-up, no Redis",
        },
        "machine": {
            "python": sys.version.split()[0],
            "platform": host_platform.platform(),
            "cpus": cpus,
            "note": note,
        },
        "results": {
            operation: {
                path: results[(operation, path)].as_dict()
                for path in PATHS
                if (operation, path) in results
            }
            for operation in OPERATIONS
        },
        "service_over_ceiling": {
            operation: compare(
                results[(operation, "service")], results[(operation, "ceiling")]
            ).as_dict()
            for operation in OPERATIONS
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 2 when it failed, else 0."""
    args = parse_args(argv)
    try:
        report = benchmark(args)
    except (RuntimeError, ValueError, OSError, asyncpg.PostgresError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
