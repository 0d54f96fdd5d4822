"""The search service on PostgreSQL: search latency at growing index sizes, and indexing lag.

`./pants run tooling/bench:search -- --sizes 1000,100000 --duration 8 --lag-seconds 20`
(issue 14, item 8; docs/performance.md, "search"):

1. Search latency. A throwaway database on the PostgreSQL at 127.0.0.1:5432; the real
   service (`python -m search.main`: migrations at start-up, dev HS256 auth, JSON logs, no
   Redis, indexing off) pinned to `--server-cpu`; its index seeded in SQL to each size
   (`slipway_bench.search_seed`), then VACUUM (ANALYZE). At each size wrk `-t1
   -c<concurrency>` pinned to `--load-cpu` runs GET /v1/search?q=... for a rare word, a
   common word and two words, as a reader of 5 of the 20 teams (the ACL in every query): a
   warm-up, then `--duration` s measured. Server CPU per request from /proc. Each query's
   SQL, built by the service's own `postgres_search`, is run under EXPLAIN (ANALYZE,
   BUFFERS).
2. Indexing lag. contexts and search on PostgreSQL + Redis (their own throwaway databases,
   one Redis key prefix for the run; search follows contexts' aggregate stream through its
   consumer group), contexts pinned to `--server-cpu`, search to `--load-cpu`. wrk (`-t1
   -c16`, pinned to search's core, where it takes about 1 % of it) runs the paced Lua script
   of `slipway_bench.write_load`: `--lag-rate` PUTs per second on CLOCK_MONOTONIC, each a new
   context, `--lag-rate` x `--lag-seconds` of them in all (a fixed rate, not a throughput
   measurement; wrk runs 6 s longer, none is left in flight); 201s and
   failures from the script's status counts and wrk's socket errors. A poller (this process,
   asyncpg) reads search's index every `--poll-ms` ms and notes when it first saw each row.
   Lag per write = first seen (wall clock) - the row's `updated_at`, the version's timestamp
   contexts stamped at the write (both this machine's clock). Cross-checked with search's own
   `search_indexing_lag_seconds` histogram (event occurred_at -> applied) and its
   applied/duplicate counters; "exactly once" = every 201 indexed and applied by one event, no
   duplicate, one processed-event row each.

Prints tables, writes JSON (`--json-out`) and the plans as markdown (`--explain-out`).
"""

import argparse
import asyncio
import json
import math
import os
import re
import resource
import secrets
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, suppress
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import httpx
from sqlalchemy.dialects.postgresql import asyncpg as pg_asyncpg

import search.main
from search.adapters.sql.queries import postgres_search
from search.domain.acl import READ_SCOPE
from search.domain.model import Reader, SearchQuery
from search.domain.search import plan_search
from search.settings import DEV_AUDIENCE, DEV_HS256_SECRET, DEV_ISSUER
from search.settings import Settings as SearchSettings
from slipway.auth.testing import hs256_signing_key, mint_token
from slipway_bench import search_seed
from slipway_bench.contexts_bench import DEFAULT_ADMIN_URL, DEFAULT_REDIS_URL, Measurement
from slipway_bench.contexts_bench import dev_token as contexts_token
from slipway_bench.latency_service import (
    RunningService,
    ServiceProgram,
    running_service,
    service_settings,
    web_service_values,
)
from slipway_bench.overhead import free_port
from slipway_bench.procfs import process_cpu_seconds, process_rss_bytes
from slipway_bench.scale_capture import admin, async_url
from slipway_bench.scale_explain import _summary as plan_summary
from slipway_bench.write_load import limited_pacing_script, run_writes
from slipway_bench.wrk import (
    parse_sizes,
    render_script,
    resolve_wrk,
    run_wrk,
    write_outputs,
    write_script,
    wrk_command,
)

READER_SUBJECT = "bench-reader"
LAG_NAMESPACE = "lag"
LAG_GROUP = "lag-readers"
LAG_CONNECTIONS = 16
"""wrk connections sharing the lag writes' schedule: a slow answer holds up one of them only."""
LAG_GRACE_S = 6
"""wrk's --duration is this much longer than the writes' (its --timeout is 5 s), so none is
left in flight; the script stops wrk's thread at the last answer, wrk exits at --duration."""


def queries(words: Sequence[str]) -> dict[str, str]:
    """The measured queries: the rarest word, the most common one, and two common words."""
    return {"rare": words[-1], "common": words[0], "two_words": f"{words[1]} {words[2]}"}


def search_token() -> str:
    """A development token search's embedded auth accepts: contexts:read, 5 of 20 teams."""
    return mint_token(
        hs256_signing_key(DEV_HS256_SECRET),
        issuer=DEV_ISSUER,
        audience=DEV_AUDIENCE,
        subject=READER_SUBJECT,
        scopes=[READ_SCOPE],
        expires_in=3600,
        claims={"groups": list(search_seed.READER_GROUPS)},
    )


def reader() -> Reader:
    """The reader `search_token` stands for."""
    return Reader(READER_SUBJECT, frozenset(search_seed.READER_GROUPS), frozenset({READ_SCOPE}))


_SAFE_TOKEN = re.compile(r"^[A-Za-z0-9._-]+$")
_SEARCH_SCRIPT = """
local headers = {["Authorization"] = "Bearer @TOKEN@"}
request = function()
  return wrk.format("GET", "@PATH@", headers)
end
"""


def search_path(query: str) -> str:
    """The request path of a search for `query`."""
    return "/v1/search?" + urllib.parse.urlencode({"q": query})


def search_script(query: str, token: str) -> str:
    """The wrk Lua script searching for `query` with `token`, plus the done() report."""
    if not _SAFE_TOKEN.match(token):
        raise ValueError("the token has characters the Lua script cannot carry")
    return render_script(_SEARCH_SCRIPT, {"TOKEN": token, "PATH": search_path(query)})


# ---------------------------------------------------------------------------------------------
# The search process.


def search_values(
    port: int,
    database_url: str,
    *,
    redis_url: str | None = None,
    redis_prefix: str = "",
    contexts_url: str | None = None,
) -> dict[tuple[str, ...], str]:
    """search's settings by field path: indexing off unless `contexts_url` is given."""
    values = web_service_values(port, database_url)
    values[("indexing", "enabled")] = "false" if contexts_url is None else "true"
    if contexts_url is not None:
        values[("indexing", "contexts", "base_url")] = contexts_url
    if redis_url is not None:
        values[("redis", "url")] = redis_url
        values[("redis", "key_prefix")] = redis_prefix
    return values


SEARCH = ServiceProgram("search", search.main.__name__, SearchSettings)


def running_search(
    values: Mapping[tuple[str, ...], str], workdir: Path, *, cpu: int | None
) -> AbstractContextManager[RunningService]:
    """Run `python -m search.main` in `workdir` (pinned to `cpu`) until the block ends."""
    return running_service(values, workdir, cpu=cpu, program=SEARCH)


# ---------------------------------------------------------------------------------------------
# Phase 1: search latency.


def compiled_search(query: str) -> tuple[str, list[Any]]:
    """The service's own PostgreSQL search statement for `query`, as asyncpg gets it."""
    statement = postgres_search(plan_search(SearchQuery(text=query)), reader())
    compiled = statement.compile(dialect=pg_asyncpg.dialect())  # type: ignore[no-untyped-call]
    names = compiled.positiontup or []
    return str(compiled), [compiled.params[name] for name in names]


async def explain_search(connection: Any, query: str) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS) of the search for `query` (run twice: the second, warm)."""
    sql, params = compiled_search(query)
    for _ in range(2):
        rows = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *params)
    plan = [row[0] for row in rows]
    return {"query": query, "plan": plan, "summary": plan_summary(plan)}


async def _grow(dsn: str, have: int, size: int, words: list[str]) -> dict[str, Any]:
    connection = await asyncpg.connect(dsn)
    try:
        started = time.monotonic()
        await search_seed.seed_index(connection, have, size, words)
        seeded = time.monotonic() - started
        started = time.monotonic()
        await search_seed.vacuum_analyze(connection)
        vacuumed = time.monotonic() - started
        count = await search_seed.indexed_count(connection)
        matches = {
            name: await search_seed.matching(connection, q) for name, q in queries(words).items()
        }
        plans = {name: await explain_search(connection, q) for name, q in queries(words).items()}
    finally:
        await connection.close()
    return {
        "indexed": count,
        "seed_s": round(seeded, 2),
        "vacuum_analyze_s": round(vacuumed, 2),
        "matches": matches,
        "explain": plans,
    }


def _measure(served: RunningService, command: list[str], load_cpu: int | None) -> Measurement:
    before = process_cpu_seconds(served.pid)
    result = run_wrk(command, cpu=load_cpu)
    used = process_cpu_seconds(served.pid) - before
    return Measurement(wrk=result, server_cpu_s=used, rss_bytes=process_rss_bytes(served.pid))


def check_answer(base_url: str, query: str, token: str) -> int:
    """One search before the load: it must answer 200; the number of hits on its page."""
    response = httpx.get(
        base_url + search_path(query), headers={"authorization": f"Bearer {token}"}, timeout=30
    )
    if response.status_code != 200:
        raise RuntimeError(f"search {query!r}: {response.status_code} {response.text[:300]}")
    return len(response.json()["items"])


def latency_phase(
    args: argparse.Namespace, server_cpu: int | None, load_cpu: int | None
) -> dict[str, Any]:
    """Seed to each size and measure each query there (see the module docstring)."""
    database = f"search_bench_{os.getpid()}"
    dsn = _with_database(args.admin_url, database)
    words = search_seed.vocabulary()
    token = search_token()
    out: dict[str, Any] = {}
    asyncio.run(admin(args.admin_url, f'CREATE DATABASE "{database}"'))
    try:
        with tempfile.TemporaryDirectory(prefix="slipway-search-") as tmp:
            workdir = Path(tmp)
            values = search_values(free_port(), async_url(dsn))
            with running_search(values, workdir, cpu=server_cpu) as served:
                have = 0
                for size in args.sizes:
                    grown = asyncio.run(_grow(dsn, have, size, words))
                    have = size
                    print(
                        f"seeded {size} contexts in {grown['seed_s']} s"
                        f" (VACUUM ANALYZE {grown['vacuum_analyze_s']} s); matches"
                        f" {grown['matches']}",
                        flush=True,
                    )
                    results = {}
                    for name, query in queries(words).items():
                        page = check_answer(served.base_url, query, token)
                        script = write_script(
                            workdir, f"search_{name}", search_script(query, token)
                        )
                        common: dict[str, Any] = {
                            "script": script,
                            "connections": args.concurrency,
                        }
                        if args.warmup > 0:
                            run_wrk(
                                wrk_command(
                                    args.wrk, served.base_url, duration_s=args.warmup, **common
                                ),
                                cpu=load_cpu,
                            )
                        m = _measure(
                            served,
                            wrk_command(
                                args.wrk, served.base_url, duration_s=args.duration, **common
                            ),
                            load_cpu,
                        )
                        print(
                            f"{size:>8} {name:<10} {m.wrk.requests_per_second:>7.0f} req/s"
                            f"  p50 {m.wrk.p50_ms:.2f} ms  p99 {m.wrk.p99_ms:.2f} ms"
                            f"  errors {m.wrk.error_count}",
                            flush=True,
                        )
                        results[name] = {"query": query, "page_hits": page, **m.as_dict()}
                    out[str(size)] = {**grown, "results": results}
    finally:
        asyncio.run(admin(args.admin_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    return out


def _with_database(url: str, database: str) -> str:
    return f"{url.rpartition('/')[0]}/{database}"


def latency_table(phase: Mapping[str, Any]) -> str:
    """size x query: req/s, p50, p99, CPU per request, and the ratios to the smallest size."""
    lines = [
        f"{'query':<10}{'size':>8}{'matches':>9}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'errors':>7}{'cpu us':>8}{'x req/s':>9}{'x p99':>8}"
    ]
    sizes = list(phase)
    if not sizes:
        return "\n".join(lines)
    for name in phase[sizes[0]]["results"]:
        first = phase[sizes[0]]["results"][name]
        for size in sizes:
            r = phase[size]["results"][name]
            cpu = r.get("cpu_us_per_request")
            lines.append(
                f"{name:<10}{size:>8}{phase[size]['matches'][name]['readable']:>9}"
                f"{r['requests_per_second']:>8.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
                f"{sum(r['errors'].values()):>7}{'n/a' if cpu is None else f'{cpu:.0f}':>8}"
                f"{_x(r['requests_per_second'], first['requests_per_second']):>9}"
                f"{_x(r['p99_ms'], first['p99_ms']):>8}"
            )
    return "\n".join(lines)


def _x(value: float, base: float) -> str:
    return "n/a" if not base else f"{value / base:.2f}x"


# ---------------------------------------------------------------------------------------------
# Phase 2: indexing lag.


def percentile(values: Sequence[float], q: float) -> float | None:
    """The `q`-th percentile (0..100) of `values`, nearest rank; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([-+0-9.eEinfINFNa]+)")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def parse_metrics(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The samples of a Prometheus text exposition: (name, labels) -> value."""
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        match = _SAMPLE.match(line)
        if match:
            labels = frozenset(_LABEL.findall(match.group(2) or ""))
            samples[(match.group(1), labels)] = float(match.group(3))
    return samples


def histogram_buckets(
    samples: Mapping[tuple[str, frozenset[tuple[str, str]]], float], name: str
) -> list[tuple[float, float]]:
    """(upper bound, cumulative count) of histogram `name`'s buckets, ascending."""
    buckets = []
    for (sample, labels), value in samples.items():
        if sample == f"{name}_bucket":
            bound = dict(labels).get("le")
            if bound is not None:
                buckets.append((float(bound), value))
    return sorted(buckets)


def bucket_delta(
    after: list[tuple[float, float]], before: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    """The buckets of the observations between two scrapes."""
    earlier = dict(before)
    return [(bound, count - earlier.get(bound, 0.0)) for bound, count in after]


def histogram_quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """Prometheus' histogram_quantile: linear within the bucket the rank falls in."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower
            inside = count - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 0.0)
        lower, below = bound, count
    return lower


def counter(
    samples: Mapping[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    """A counter's value (0 when absent)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def _scrape(base_url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=10) as response:  # noqa: S310
        return parse_metrics(response.read().decode())


def lag_writes(rate: float, seconds: float) -> int:
    """How many contexts the lag phase writes: `rate` per second for `seconds`."""
    return int(rate * seconds)


def lag_script(*, rate: float, writes: int, token: str, nonce: str) -> str:
    """The wrk Lua script of the lag writes: `writes` PUTs of new contexts at `rate` per s."""
    return limited_pacing_script(
        rate=rate,
        limit=writes,
        namespace=LAG_NAMESPACE,
        token=token,
        group=LAG_GROUP,
        nonce=nonce,
        contexts=writes,  # the names go round once: every write creates a context
    )


def lag_wrk_command(wrk: str, url: str, script: Path, seconds: float) -> list[str]:
    """wrk's argv for the lag writes: the writes' seconds (rounded up) plus the grace."""
    return wrk_command(
        wrk,
        url,
        script=script,
        duration_s=math.ceil(seconds) + LAG_GRACE_S,
        connections=LAG_CONNECTIONS,
    )


def write_outcome(
    statuses: Mapping[int, int], errors: Mapping[str, int]
) -> tuple[int, dict[str, int]]:
    """The 201s, and the failures by kind: any other status, wrk's socket errors."""
    failures = {str(status): n for status, n in sorted(statuses.items()) if status != 201 and n}
    # wrk's "status" errors are answers >= 400, already among the statuses.
    failures.update({kind: n for kind, n in errors.items() if kind != "status" and n})
    return statuses.get(201, 0), failures


def index_lags_ms(seen: Mapping[str, tuple[float, float]]) -> list[float]:
    """Per indexed row (first seen, updated_at, both epoch s): the lag in ms."""
    return [(first_seen - updated) * 1000 for first_seen, updated in seen.values()]


async def _poller(
    dsn: str, poll_s: float, seen: dict[str, tuple[float, float]], stop: asyncio.Event
) -> int:
    """Read newly indexed contexts every `poll_s` s until `stop`; the polls made.

    `seen`: name -> (wall-clock time first seen, the row's updated_at), both epoch seconds.
    """
    connection = await asyncpg.connect(dsn)
    last, polls = 0, 0
    try:
        while not stop.is_set():
            rows = await connection.fetch(
                f"SELECT id, name, updated_at FROM {search_seed.TABLE}"  # noqa: S608
                " WHERE id > $1 AND namespace = $2",
                last,
                LAG_NAMESPACE,
            )
            now = time.time()
            polls += 1
            for row in rows:
                seen.setdefault(row["name"], (now, row["updated_at"].timestamp()))
                last = max(last, row["id"])
            await asyncio.sleep(poll_s)
    finally:
        await connection.close()
    return polls


async def _lag_run(
    args: argparse.Namespace,
    contexts_url: str,
    search_dsn: str,
    nonce: str,
    workdir: Path,
    wrk_cpu: int | None,
) -> dict[str, Any]:
    writes = lag_writes(args.lag_rate, args.lag_seconds)
    script = write_script(
        workdir,
        "search_lag_writes",
        lag_script(rate=args.lag_rate, writes=writes, token=contexts_token(), nonce=nonce),
    )
    command = lag_wrk_command(args.wrk, contexts_url, script, args.lag_seconds)
    seen: dict[str, tuple[float, float]] = {}
    stop = asyncio.Event()
    poller = asyncio.create_task(_poller(search_dsn, args.poll_ms / 1000, seen, stop))
    children_before = _children_cpu_s()
    try:
        put, statuses = await asyncio.to_thread(run_writes, command, cpu=wrk_cpu)
    except BaseException:
        stop.set()
        with suppress(Exception):
            await poller
        raise
    wrk_cpu_s = _children_cpu_s() - children_before
    answered, failures = write_outcome(statuses, put.errors)
    deadline = time.monotonic() + args.settle_seconds
    # The poller fills `seen`; waiting on it by polling keeps it free of signalling.
    while time.monotonic() < deadline and len(seen) < answered:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    stop.set()
    polls = await poller
    connection = await asyncpg.connect(search_dsn)
    try:
        processed = await connection.fetchval("SELECT count(*) FROM slipway_processed_events")
        versions = await connection.fetch(
            f"SELECT version, count(*) AS n FROM {search_seed.TABLE}"  # noqa: S608
            " WHERE namespace = $1 GROUP BY version",
            LAG_NAMESPACE,
        )
    finally:
        await connection.close()
    return {
        "writes": writes,
        "answered_201": answered,
        "failures": failures,
        "failure_count": sum(failures.values()),
        "put": put.as_dict(),
        "put_statuses": {str(status): n for status, n in sorted(statuses.items())},
        "wrk_cpu_s": round(wrk_cpu_s, 2),
        "indexed": len(seen),
        "never_indexed": max(0, answered - len(seen)),
        "polls": polls,
        "processed_event_rows": int(processed),
        "indexed_versions": {str(r["version"]): int(r["n"]) for r in versions},
        "lag_ms": _stats(index_lags_ms(seen)),
        # The rate the versions were written at (their updated_at), and the rate the index
        # took them in: below the writes' rate, the lag grows with the run (a backlog).
        "written_per_s": _rate(sorted(updated for _, updated in seen.values())),
        "indexed_per_s": _rate(sorted(first for first, _ in seen.values())),
    }


def _children_cpu_s() -> float:
    # Only wrk ends (and is waited for) among this process's children during the writes.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _rate(times: Sequence[float]) -> float | None:
    return (
        round((len(times) - 1) / (times[-1] - times[0]), 1)
        if len(times) > 1 and times[-1] > times[0]
        else None
    )


def _stats(values: Sequence[float]) -> dict[str, float | None]:
    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 2)

    return {
        "count": len(values),
        "min": r(min(values, default=None)),
        "p50": r(percentile(values, 50)),
        "p90": r(percentile(values, 90)),
        "p99": r(percentile(values, 99)),
        "max": r(max(values, default=None)),
    }


def lag_phase(
    args: argparse.Namespace, contexts_cpu: int | None, search_cpu: int | None
) -> dict[str, Any]:
    """contexts and search on PostgreSQL + Redis, paced wrk writes, the lag of each write."""
    nonce = secrets.token_hex(3)
    databases = {name: f"search_lag_{name}_{os.getpid()}" for name in ("contexts", "search")}
    dsns = {name: _with_database(args.admin_url, db) for name, db in databases.items()}
    prefix = f"slipway-bench-{nonce}:"
    for db in databases.values():
        asyncio.run(admin(args.admin_url, f'CREATE DATABASE "{db}"'))
    try:
        with tempfile.TemporaryDirectory(prefix="slipway-search-lag-") as tmp:
            workdir = Path(tmp)
            contexts_settings = service_settings(
                free_port(), async_url(dsns["contexts"]), args.redis_url, None
            )
            contexts_settings[("redis", "key_prefix")] = prefix
            with running_service(contexts_settings, workdir, cpu=contexts_cpu) as contexts:
                values = search_values(
                    free_port(),
                    async_url(dsns["search"]),
                    redis_url=args.redis_url,
                    redis_prefix=prefix,
                    contexts_url=contexts.base_url,
                )
                with running_search(values, workdir, cpu=search_cpu) as served:
                    before = _scrape(served.base_url)
                    c_before = process_cpu_seconds(contexts.pid)
                    s_before = process_cpu_seconds(served.pid)
                    run = asyncio.run(
                        _lag_run(
                            args, contexts.base_url, dsns["search"], nonce, workdir, search_cpu
                        )
                    )
                    cpu = {
                        "contexts_s": round(process_cpu_seconds(contexts.pid) - c_before, 2),
                        "search_s": round(process_cpu_seconds(served.pid) - s_before, 2),
                        "wrk_s": run.pop("wrk_cpu_s"),
                    }
                    after = _scrape(served.base_url)
    finally:
        for db in databases.values():
            asyncio.run(admin(args.admin_url, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        with suppress(Exception):
            _drop_redis_prefix(args.redis_url, prefix)
    name = "search_indexing_lag_seconds"
    buckets = bucket_delta(histogram_buckets(after, name), histogram_buckets(before, name))
    events = "search_indexing_events_total"
    metric = {
        "applied": counter(after, events, outcome="applied")
        - counter(before, events, outcome="applied"),
        "duplicate": counter(after, events, outcome="duplicate")
        - counter(before, events, outcome="duplicate"),
        "lag_p50_ms": _ms(histogram_quantile(buckets, 0.5)),
        "lag_p99_ms": _ms(histogram_quantile(buckets, 0.99)),
        "lag_buckets": [(b, c) for b, c in buckets if not math.isinf(b)],
    }
    run["metric"] = metric
    run["cpu"] = cpu
    run["exactly_once"] = (
        run["indexed"] == run["answered_201"] == metric["applied"]
        and metric["duplicate"] == 0
        and run["processed_event_rows"] == run["answered_201"]
    )
    return run


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def _drop_redis_prefix(url: str, prefix: str) -> None:
    import redis  # the client the platform uses; only for the clean-up

    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
    finally:
        client.close()


def lag_table(run: Mapping[str, Any]) -> str:
    """The lag phase in a few lines."""
    lag, metric = run["lag_ms"], run["metric"]
    return "\n".join(
        [
            f"writes {run['writes']}  201 {run['answered_201']}  indexed {run['indexed']}"
            f"  never {run['never_indexed']}  failures {run['failure_count']}",
            f"written {run['written_per_s']}/s (updated_at), indexed {run['indexed_per_s']}/s"
            " (first seen)",
            f"lag (poll: version written -> in index) ms: p50 {lag['p50']}  p90 {lag['p90']}"
            f"  p99 {lag['p99']}  max {lag['max']}  min {lag['min']}",
            f"lag (search_indexing_lag_seconds, occurred -> applied) ms: p50"
            f" {metric['lag_p50_ms']}  p99 {metric['lag_p99_ms']}",
            f"applied {metric['applied']:.0f}  duplicate {metric['duplicate']:.0f}  processed rows"
            f" {run['processed_event_rows']}  exactly once: {run['exactly_once']}",
            f"PUT (wrk -c{LAG_CONNECTIONS}) ms: p50 {run['put']['p50_ms']}  p99"
            f" {run['put']['p99_ms']}  max {run['put']['max_ms']}",
            f"CPU over the run: contexts {run['cpu']['contexts_s']} s, search"
            f" {run['cpu']['search_s']} s, wrk {run['cpu']['wrk_s']} s",
        ]
    )


# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line options."""
    parser = argparse.ArgumentParser(prog="search-bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,100000", help="indexed contexts, ascending")
    parser.add_argument("--duration", type=int, default=8, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--lag-rate", type=float, default=100.0, help="writes per second")
    parser.add_argument("--lag-seconds", type=float, default=20.0)
    parser.add_argument("--poll-ms", type=float, default=5.0)
    parser.add_argument(
        "--settle-seconds", type=float, default=60.0, help="wait this long for the last writes"
    )
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-lag", action="store_true")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--load-cpu", type=int, default=1)
    parser.add_argument("--wrk", default="wrk")
    parser.add_argument("--json-out", type=Path, default=Path("dist/bench/search.json"))
    parser.add_argument("--explain-out", type=Path, default=Path("dist/bench/search-explain.md"))
    args = parser.parse_args(argv)
    args.sizes = parse_sizes(parser, args.sizes, least=1)
    if min(args.duration, args.concurrency) < 1 or args.lag_rate <= 0 or args.lag_seconds <= 0:
        parser.error("duration, concurrency, rate and seconds must be positive")
    return args


def explain_markdown(phase: Mapping[str, Any]) -> str:
    """The plans of every size and query as markdown."""
    lines = ["# search at scale: the search statement's plans", ""]
    for size, grown in phase.items():
        lines += [f"## {size} contexts", ""]
        for name, item in grown["explain"].items():
            lines += [f"### {name}: q={item['query']!r}", "", "```", *item["plan"], "```", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 2 when wrk is missing or the run failed, else 0."""
    args = parse_args(None if argv is None else list(argv))
    if not resolve_wrk(args):
        return 2
    pinnable = args.server_cpu != args.load_cpu and {args.server_cpu, args.load_cpu} <= (
        os.sched_getaffinity(0)
    )
    server_cpu, load_cpu = (args.server_cpu, args.load_cpu) if pinnable else (None, None)
    result: dict[str, Any] = {
        "settings": {
            "sizes": args.sizes,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "wrk": f"wrk -t1 -c{args.concurrency}",
            "lag_wrk": f"wrk -t1 -c{LAG_CONNECTIONS}",
            "pinning": (
                f"search latency: server core {server_cpu}, wrk core {load_cpu}; lag: contexts"
                f" core {server_cpu}, search and its wrk writer core {load_cpu}, poller and"
                " PostgreSQL/Redis unpinned"
                if pinnable
                else "nothing pinned"
            ),
            "lag_rate_per_s": args.lag_rate,
            "lag_seconds": args.lag_seconds,
            "poll_ms": args.poll_ms,
            "load_average_at_start": os.getloadavg(),
        }
    }
    started = time.monotonic()
    try:
        if not args.skip_latency:
            result["search_latency"] = latency_phase(args, server_cpu, load_cpu)
        if not args.skip_lag:
            result["indexing_lag"] = lag_phase(args, server_cpu, load_cpu)
    except (RuntimeError, ValueError, OSError, asyncpg.PostgresError, httpx.HTTPError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2
    result["settings"]["load_average_at_end"] = os.getloadavg()
    print()
    if "search_latency" in result:
        print(latency_table(result["search_latency"]))
    if "indexing_lag" in result:
        print(lag_table(result["indexing_lag"]))
    print(f"note: {result['settings']['pinning']}; took {time.monotonic() - started:.0f} s")
    outputs = [(args.json_out, json.dumps(result, indent=2, default=str) + "\n")]
    if "search_latency" in result:
        outputs.append((args.explain_out, explain_markdown(result["search_latency"])))
    write_outputs(outputs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
