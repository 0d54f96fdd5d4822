"""The benchmark's limit app on the real PostgreSQL, on the tables the service's migrations make.

Each write must leave what the service's adapter leaves (a version, the pointer on it, the
labels, one audit row, one outbox row), or the limit would not be doing the same work.
"""

from collections.abc import AsyncIterator

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import httpx
import pytest

from contexts.migrations import MIGRATIONS_DIR
from slipway.db.testing import (
    postgres_test_url,
    postgres_unreachable_reason,
    require_server,
    throwaway_postgres_database,
)
from slipway_bench.limit_app import build_app

pytestmark = pytest.mark.integration


@pytest.fixture
async def limit() -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """The limit app over ASGI on a migrated throwaway database; the client and the DSN."""
    require_server(postgres_unreachable_reason(postgres_test_url()))
    async with throwaway_postgres_database(
        postgres_test_url(), migrations_dir=MIGRATIONS_DIR
    ) as database:
        dsn = database.url.set(drivername="postgresql").render_as_string(hide_password=False)
        app = build_app(dsn, pool_size=2)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://limit") as client,
        ):
            yield client, dsn


async def test_writes_leave_what_the_adapter_leaves(
    limit: tuple[httpx.AsyncClient, str],
) -> None:
    client, dsn = limit
    body = {"content": "# Runbook\n\none", "format": "markdown"}
    put = {"kind": "document", "body": body, "labels": {"team": "bench"}}
    created = await client.put("/v1/contexts/raw/c1", json=put)
    assert created.status_code == 201
    assert created.json()["version"] == 1
    same = await client.put("/v1/contexts/raw/c1", json=put)
    assert (same.status_code, same.json()["version"]) == (200, 1)  # same content: no version
    put["body"] = {**body, "content": "two"}
    assert (await client.put("/v1/contexts/raw/c1", json=put)).json()["version"] == 2
    patched = await client.patch(
        "/v1/contexts/raw/c1",
        content=b'{"body":{"content":"three"},"labels":{"run":"x"}}',
        headers={"content-type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200
    assert patched.json()["body"] == {"content": "three", "format": "markdown"}
    read = (await client.get("/v1/contexts/raw/c1")).json()
    assert (read["version"], read["labels"]) == (3, {"team": "bench", "run": "x"})
    assert (await client.get("/v1/contexts/raw/missing")).status_code == 404
    await client.put("/v1/contexts/raw/c0", json=put)
    page = (await client.get("/v1/contexts/raw", params={"limit": "50"})).json()
    assert [(item["name"], item["version"]) for item in page["items"]] == [("c0", 1), ("c1", 3)]

    connection = await asyncpg.connect(dsn)
    try:
        counts = {
            table: await connection.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608
            for table in ("context_versions", "audit_log", "slipway_outbox", "context_labels")
        }
        pointer = await connection.fetchval(
            "SELECT version FROM contexts_current WHERE namespace = 'raw' AND name = 'c1'"
        )
    finally:
        await connection.close()
    assert counts == {
        "context_versions": 4,
        "audit_log": 4,
        "slipway_outbox": 4,
        "context_labels": 3,  # c1: team and run, c0: team
    }
    assert pointer == 3
