"""The fresh stores the latency benchmark runs each backend on, and their removal.

embedded: a new SQLite file (the service's in-process stream needs nothing). postgres-redis:
a new database on the given PostgreSQL, dropped afterwards, and a Redis stream prefix of its
own, whose keys are deleted afterwards.
"""

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import redis.asyncio as redis_asyncio

from contexts.settings import Settings
from slipway_bench.latency_service import has_setting


async def _postgres(admin_url: str, statement: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _delete_streams(redis_url: str, prefix: str) -> int:
    client = redis_asyncio.Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        return int(await client.delete(*keys)) if keys else 0
    finally:
        await client.aclose()


@contextmanager
def fresh_store(
    backend: str, *, admin_url: str, redis_url: str, workdir: Path
) -> Iterator[dict[str, Any]]:
    """Database URL, Redis URL and stream prefix of a store nobody used; removed afterwards."""
    if backend == "embedded":
        yield {"database_url": f"sqlite+aiosqlite:///{workdir / 'contexts.db'}", "redis_url": None}
        return
    run_id = f"{os.getpid()}_{secrets.token_hex(3)}"
    database = f"events_latency_{run_id}"
    # The stream prefix is a setting of its own today; where it is not, the namespace (unique
    # per run) already keeps this run's streams apart.
    prefix = (
        f"bench:latency:{run_id}:" if has_setting(Settings, "events", "stream_prefix") else None
    )
    asyncio.run(_postgres(admin_url, f'CREATE DATABASE "{database}"'))
    base, _, _ = admin_url.rpartition("/")
    try:
        yield {
            "database_url": f"{base}/{database}".replace(
                "postgresql://", "postgresql+asyncpg://", 1
            ),
            "redis_url": redis_url,
            "stream_prefix": prefix,
        }
    finally:
        asyncio.run(_postgres(admin_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        if prefix is not None:
            asyncio.run(_delete_streams(redis_url, prefix))
