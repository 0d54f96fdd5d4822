"""How the contexts service's cost grows with what it stores (issue 13, item 4).

`./pants run tooling/bench:contexts-scale -- --sizes 1000,100000,1000000` creates a throwaway
database on the PostgreSQL at 127.0.0.1:5432, serves the real service on it (`python -m
contexts.main`, as `tooling/bench:contexts` does: migrations at start-up, dev HS256 auth, JSON
logs, an unreachable rate limit, no Redis) pinned to `--server-cpu`, and grows one namespace
through the sizes: at each, the contexts are seeded in SQL (`slipway_bench.scale_seed`: copies
of a context a PUT wrote), plus one fresh context with `--versions` versions, then VACUUM
(ANALYZE). Then wrk `-t1 -c<concurrency>` pinned to `--load-cpu` runs each operation of
`slipway_bench.scale_load` (random keys over the whole set; the first and a deep list page;
the long history's current version, a random old version, its version list, PUTs to it),
a warm-up and `--duration` s measured. Then the exact statements of one request of each
operation are captured from the server log and explained (`slipway_bench.scale_explain`).
Prints a table (ratios to the smallest size), writes JSON (`--json-out`) and the plans as
markdown (`--explain-out`). See docs/performance.md, "How cost grows".
"""

import argparse
import asyncio
import json
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import httpx

from slipway_bench import scale_explain
from slipway_bench.contexts_bench import (
    DEFAULT_ADMIN_URL,
    Measurement,
    Served,
    dev_token,
)
from slipway_bench.latency_service import running_service, service_settings
from slipway_bench.overhead import free_port
from slipway_bench.procfs import process_cpu_seconds, process_rss_bytes
from slipway_bench.scale_capture import admin, async_url, capture_and_explain
from slipway_bench.scale_load import (
    HISTORY_NAMESPACE,
    NAMESPACE,
    OPERATIONS,
    TEMPLATE,
    deep_name,
    format_table,
    growth,
    write_load_script,
)
from slipway_bench.scale_seed import (
    Template,
    context_name,
    seed_contexts,
    seed_versions,
    seeded_count,
    vacuum_analyze,
)
from slipway_bench.wrk import parse_sizes, resolve_wrk, run_wrk, write_outputs, wrk_command


def put_template(client: httpx.Client, namespace: str, name: str) -> None:
    """Write one context through the API: the rows the seeding copies."""
    response = client.put(f"/v1/contexts/{namespace}/{name}", json=TEMPLATE)
    if response.status_code not in (200, 201):
        raise RuntimeError(f"PUT {namespace}/{name}: {response.status_code} {response.text[:300]}")


async def _seed(dsn: str, size: int, versions: int) -> dict[str, float]:
    connection = await asyncpg.connect(dsn)
    timings = {}
    try:
        started = time.monotonic()
        have = await seeded_count(connection, NAMESPACE)
        await seed_contexts(connection, Template(NAMESPACE, context_name(0)), have, size)
        timings["contexts_s"] = time.monotonic() - started
        started = time.monotonic()
        await seed_versions(connection, Template(HISTORY_NAMESPACE, deep_name(size)), versions)
        timings["versions_s"] = time.monotonic() - started
        started = time.monotonic()
        await vacuum_analyze(connection)
        timings["vacuum_analyze_s"] = time.monotonic() - started
    finally:
        await connection.close()
    return {k: round(v, 2) for k, v in timings.items()}


def grow(client: httpx.Client, dsn: str, size: int, versions: int) -> dict[str, float]:
    """Seed the namespace up to `size` contexts and a fresh `versions`-version context."""
    put_template(client, HISTORY_NAMESPACE, deep_name(size))
    timings = asyncio.run(_seed(dsn, size, versions))
    print(f"seeded {size} contexts and {deep_name(size)} ({versions} versions): {timings}")
    return timings


def _with_database(url: str, database: str) -> str:
    return f"{url.rpartition('/')[0]}/{database}"


def _cpus(args: argparse.Namespace) -> tuple[int | None, int | None, str]:
    if args.server_cpu != args.load_cpu and {
        args.server_cpu,
        args.load_cpu,
    } <= os.sched_getaffinity(0):
        return (
            args.server_cpu,
            args.load_cpu,
            f"server pinned to core {args.server_cpu}, wrk to core {args.load_cpu};"
            " PostgreSQL unpinned (shares both)",
        )
    print(f"warning: cores {args.server_cpu}/{args.load_cpu} unavailable: nothing is pinned")
    return None, None, "nothing pinned"


def measure(served: Served, command: list[str], *, load_cpu: int | None) -> Measurement:
    """One wrk run with the server's CPU over it and its RSS at the end."""
    before = process_cpu_seconds(served.pid)
    result = run_wrk(command, cpu=load_cpu)
    used = process_cpu_seconds(served.pid) - before
    return Measurement(wrk=result, server_cpu_s=used, rss_bytes=process_rss_bytes(served.pid))


def measure_size(
    args: argparse.Namespace, served: Served, workdir: Path, size: int, load_cpu: int | None
) -> dict[str, Measurement]:
    """A warm-up and a measured wrk run of every operation at `size`."""
    token = dev_token()
    results = {}
    for seed, operation in enumerate(OPERATIONS):
        script = write_load_script(
            workdir,
            operation,
            size=size,
            versions=args.versions,
            token=token,
            nonce=f"s{size}-{secrets.token_hex(4)}",
            seed=seed,
        )
        connections = (
            args.versions_concurrency if operation == "DEEP_VERSIONS" else args.concurrency
        )
        common: dict[str, Any] = {"script": script, "connections": connections}
        if args.warmup > 0:
            run_wrk(
                wrk_command(args.wrk, served.base_url, duration_s=args.warmup, **common),
                cpu=load_cpu,
            )
        m = measure(
            served,
            wrk_command(args.wrk, served.base_url, duration_s=args.duration, **common),
            load_cpu=load_cpu,
        )
        results[operation] = m
        print(
            f"{size:>8} {operation:<14} {m.wrk.requests_per_second:>8.0f} req/s  p50"
            f" {m.wrk.p50_ms:.2f} ms  p99 {m.wrk.p99_ms:.2f} ms  errors {m.wrk.error_count}",
            flush=True,
        )
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line options."""
    parser = argparse.ArgumentParser(prog="contexts-scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,100000,1000000", help="contexts, ascending")
    parser.add_argument("--versions", type=int, default=10_000, help="versions of the long history")
    parser.add_argument("--duration", type=int, default=8, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up before each")
    parser.add_argument("--concurrency", type=int, default=32, help="wrk connections")
    parser.add_argument(
        "--versions-concurrency",
        type=int,
        default=2,
        help="wrk connections for DEEP_VERSIONS (each answer holds every version)",
    )
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument(
        "--postgres-log",
        type=Path,
        default=None,
        help="the server log, for the EXPLAIN capture (default: the Debian one)",
    )
    parser.add_argument("--skip-explain", action="store_true")
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--load-cpu", type=int, default=1)
    parser.add_argument("--wrk", default="wrk")
    parser.add_argument("--json-out", type=Path, default=Path("dist/bench/contexts-scale.json"))
    parser.add_argument(
        "--explain-out", type=Path, default=Path("dist/bench/contexts-scale-explain.md")
    )
    args = parser.parse_args(argv)
    args.sizes = parse_sizes(parser, args.sizes, least=2)
    if min(args.versions, args.duration, args.concurrency, args.versions_concurrency) < 1:
        parser.error("versions, duration and concurrency must be >= 1")
    return args


def benchmark(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    """Create the database, serve, grow and measure at each size; the JSON and markdown."""
    started = time.monotonic()
    database = f"contexts_scale_{os.getpid()}"
    dsn = _with_database(args.admin_url, database)
    server_cpu, load_cpu, pinning = _cpus(args)
    log = args.postgres_log or scale_explain.default_log_path()
    results: dict[tuple[int, str], Measurement] = {}
    seeding: dict[int, dict[str, float]] = {}
    explained: dict[str, dict[str, list[Any]]] = {}
    asyncio.run(admin(args.admin_url, f'CREATE DATABASE "{database}"'))
    try:
        with tempfile.TemporaryDirectory(prefix="slipway-scale-") as tmp:
            workdir = Path(tmp)
            settings = service_settings(free_port(), async_url(dsn), None, None)
            with running_service(settings, workdir, cpu=server_cpu) as service:
                served = Served(service.base_url, service.pid, workdir / "contexts.stderr.log")
                headers = {"authorization": f"Bearer {dev_token()}"}
                with httpx.Client(base_url=served.base_url, headers=headers, timeout=60) as client:
                    put_template(client, NAMESPACE, context_name(0))
                    for size in args.sizes:
                        seeding[size] = grow(client, dsn, size, args.versions)
                        for operation, m in measure_size(
                            args, served, workdir, size, load_cpu
                        ).items():
                            results[(size, operation)] = m
                        if args.skip_explain or log is None:
                            continue
                        explained[str(size)] = capture_and_explain(
                            args, dsn, database, workdir, size, log
                        )
    finally:
        asyncio.run(admin(args.admin_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    print()
    print(format_table(results, args.sizes))
    print(f"note: {pinning}; the whole run took {time.monotonic() - started:.0f} s")
    explain_note = (
        "skipped" if args.skip_explain else f"from {log}" if log else "no readable server log"
    )
    return report(args, results, seeding, explained, pinning, explain_note), scale_explain.markdown(
        explained
    )


def report(
    args: argparse.Namespace,
    results: dict[tuple[int, str], Measurement],
    seeding: dict[int, dict[str, float]],
    explained: dict[str, dict[str, list[Any]]],
    pinning: str,
    explain_note: str,
) -> dict[str, Any]:
    """The JSON report of a run."""
    first = args.sizes[0]
    return {
        "settings": {
            "sizes": args.sizes,
            "versions_of_the_long_history": args.versions,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "wrk": f"wrk -t1 -c{args.concurrency} (DEEP_VERSIONS: -c{args.versions_concurrency})",
            "pinning": pinning,
            "explain": explain_note,
        },
        "seeding_s": {str(size): timings for size, timings in seeding.items()},
        "results": {
            operation: {
                str(size): {
                    **results[(size, operation)].as_dict(),
                    f"over_{first}": growth(
                        results[(size, operation)], results.get((first, operation))
                    ),
                }
                for size in args.sizes
                if (size, operation) in results
            }
            for operation in OPERATIONS
        },
        "explain": explained,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 2 when wrk is missing or the run failed, else 0."""
    args = parse_args(None if argv is None else list(argv))
    if not resolve_wrk(args):
        return 2
    try:
        result, plans = benchmark(args)
    except (RuntimeError, ValueError, OSError, asyncpg.PostgresError, httpx.HTTPError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2
    write_outputs([(args.json_out, json.dumps(result, indent=2) + "\n"), (args.explain_out, plans)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
