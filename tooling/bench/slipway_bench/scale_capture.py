"""Run one request of each scale operation on a logging instance of the service; explain them.

See `slipway_bench.scale_explain` for how statements are captured from the server log and
explained; this module starts the instance, sends the requests and collects the plans.
"""

import argparse
import asyncio
import secrets
import time
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import httpx

from slipway_bench import scale_explain
from slipway_bench.contexts_bench import dev_token
from slipway_bench.latency_service import running_service, service_settings
from slipway_bench.overhead import free_port
from slipway_bench.scale_load import (
    HISTORY_NAMESPACE,
    NAMESPACE,
    TEMPLATE,
    deep_cursor,
    deep_name,
)
from slipway_bench.scale_seed import context_name


def capture_requests(size: int, versions: int) -> list[tuple[str, str, str, Any]]:
    """One request per operation, as the wrk scripts send them: (operation, method, path, body)."""
    deep = f"/v1/contexts/{HISTORY_NAMESPACE}/{deep_name(size)}"
    put = dict(TEMPLATE)
    middle = context_name(size // 2)
    return [
        ("GET", "GET", f"/v1/contexts/{NAMESPACE}/{middle}", None),
        ("LIST", "GET", f"/v1/contexts/{NAMESPACE}?limit=50", None),
        ("LIST_DEEP", "GET", f"/v1/contexts/{NAMESPACE}?limit=50&cursor={deep_cursor(size)}", None),
        ("DEEP_GET", "GET", deep, None),
        ("DEEP_VERSION", "GET", f"{deep}/versions/{max(1, versions // 2)}", None),
        ("DEEP_VERSIONS", "GET", f"{deep}/versions", None),
        ("PUT", "PUT", f"/v1/contexts/{NAMESPACE}/{middle}", put),
        ("DEEP_PUT", "PUT", deep, put),
    ]


def _fresh(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "body": {"content": f"captured {secrets.token_hex(8)}"}}


async def admin(url: str, statement: str) -> None:
    """Run one statement on its own connection (CREATE/ALTER/DROP DATABASE)."""
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _explain_all(dsn: str, captured: dict[str, list[Any]]) -> dict[str, list[Any]]:
    connection = await asyncpg.connect(dsn)
    try:
        return {
            operation: [await scale_explain.explain(connection, s) for s in statements]
            for operation, statements in captured.items()
        }
    finally:
        await connection.close()


def capture_and_explain(
    args: argparse.Namespace, dsn: str, database: str, workdir: Path, size: int, log: Path
) -> dict[str, list[Any]]:
    """Run each operation once on a logging instance of the service; explain what it ran."""
    asyncio.run(
        admin(args.admin_url, f'ALTER DATABASE "{database}" SET log_min_duration_statement = 0')
    )
    captured: dict[str, list[Any]] = {}
    try:
        capture_dir = workdir / f"capture-{size}"
        capture_dir.mkdir()
        settings = service_settings(free_port(), async_url(dsn), None, None)
        with running_service(settings, capture_dir, cpu=None) as service:
            headers = {"authorization": f"Bearer {dev_token()}"}
            with httpx.Client(base_url=service.base_url, headers=headers, timeout=60) as client:
                window = scale_explain.LogWindow(log)
                for operation, method, path, body in capture_requests(size, args.versions):
                    for _ in range(2):  # the second run: statements prepared and cached
                        window.read()
                        fresh = None if body is None else _fresh(body)  # a PUT that changes
                        client.request(method, path, json=fresh).raise_for_status()
                        time.sleep(0.3)  # the log is written asynchronously
                    captured[operation] = scale_explain.distinct(
                        scale_explain.parse_log(window.read(), database)
                    )
    finally:
        asyncio.run(
            admin(args.admin_url, f'ALTER DATABASE "{database}" RESET log_min_duration_statement')
        )
    return asyncio.run(_explain_all(dsn, captured))


def async_url(dsn: str) -> str:
    """The SQLAlchemy asyncpg URL of a libpq `dsn` (what the service's settings take)."""
    return dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
