"""The scale benchmark's SQL seeding on the real PostgreSQL, checked through the service's API.

A seeded context must be indistinguishable from one a PUT wrote: it reads back the same
(but for its name and its own random ETag), repeating its content is a no-op (the stored
content hash is right), a new PUT appends version 2 (the pointer and keys are right), and its
labels, audit trail and published event are there.
"""

import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import httpx
import pytest
from pydantic import SecretStr

from contexts.main import build_app
from contexts.migrations import MIGRATIONS_DIR
from contexts.settings import Settings
from slipway.config import Environment
from slipway.db import DatabaseSettings
from slipway.db.testing import (
    postgres_test_url,
    postgres_unreachable_reason,
    require_server,
    throwaway_postgres_database,
)
from slipway.web.testing import app_client
from slipway_bench.contexts_bench import dev_token
from slipway_bench.scale_explain import Statement, explain
from slipway_bench.scale_seed import (
    Template,
    context_name,
    seed_contexts,
    seed_versions,
    seeded_count,
    vacuum_analyze,
)

pytestmark = pytest.mark.integration

NS = "scale"
PAYLOAD = {
    "kind": "document",
    "body": {"content": "# Runbook\n\nseeded", "format": "markdown"},
    "labels": {"team": "bench", "tier": "one"},
    "acl": {"readers": ["group:ops"], "writers": []},
}


@pytest.fixture
async def service() -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """The whole service over ASGI on a migrated throwaway PostgreSQL; client and DSN."""
    require_server(postgres_unreachable_reason(postgres_test_url()))
    async with throwaway_postgres_database(
        postgres_test_url(), migrations_dir=MIGRATIONS_DIR
    ) as database:
        url = database.url.render_as_string(hide_password=False)
        settings = Settings(
            environment=Environment.TEST,
            database=DatabaseSettings(url=SecretStr(url)),
            redis=None,
        )
        headers = {"authorization": f"Bearer {dev_token()}"}
        async with app_client(build_app(settings)) as client:
            client.headers.update(headers)
            yield client, url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _without_identity(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in ("name", "etag")}


async def _seed(dsn: str, action: Any, *args: Any) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await action(connection, *args)
        await vacuum_analyze(connection)
    finally:
        await connection.close()


async def test_seeded_contexts_read_back_like_the_one_a_put_wrote(
    service: tuple[httpx.AsyncClient, str],
) -> None:
    client, dsn = service
    written = await client.put(f"/v1/contexts/{NS}/{context_name(0)}", json=PAYLOAD)
    assert written.status_code == 201, written.text
    await _seed(dsn, seed_contexts, Template(NS, context_name(0)), 1, 4)

    template = (await client.get(f"/v1/contexts/{NS}/{context_name(0)}")).json()
    etags = {written.headers["etag"]}
    for index in (1, 2, 3):
        url = f"/v1/contexts/{NS}/{context_name(index)}"
        seeded = await client.get(url)
        assert seeded.status_code == 200, seeded.text
        body = seeded.json()
        assert body["name"] == context_name(index)
        assert _without_identity(body) == _without_identity(template)
        assert body["etag"] == seeded.headers["etag"] not in etags
        etags.add(body["etag"])
        assert (await client.get(url, headers={"if-none-match": body["etag"]})).status_code == 304
        audit = (await client.get(f"{url}/audit")).json()["items"]
        assert [(e["action"], e["version"]) for e in audit] == [("created", 1)]
    # The stored content hash is the service's: the same content again changes nothing.
    same = await client.put(f"/v1/contexts/{NS}/{context_name(2)}", json=PAYLOAD)
    assert (same.status_code, same.json()["version"]) == (200, 1)
    changed = await client.put(
        f"/v1/contexts/{NS}/{context_name(2)}", json={**PAYLOAD, "labels": {"team": "x"}}
    )
    assert (changed.status_code, changed.json()["version"]) == (200, 2)
    page = (await client.get(f"/v1/contexts/{NS}", params={"label": "tier=one"})).json()
    assert [item["name"] for item in page["items"]] == [context_name(i) for i in (0, 1, 3)]

    connection = await asyncpg.connect(dsn)
    try:
        assert await seeded_count(connection, NS) == 4
        events = await connection.fetch(
            "SELECT o.event_id, o.payload, o.published_at, v.etag FROM slipway_outbox o"
            " JOIN context_versions v ON v.namespace = o.stream AND v.name = o.key"
            " AND v.version = (o.payload->>'version')::int WHERE o.key IN ($1, $2)",
            context_name(1),
            context_name(3),
        )
    finally:
        await connection.close()
    assert len(events) == 2
    for event in events:
        payload = json.loads(event["payload"])
        assert payload["event_id"] == event["event_id"]
        assert payload["etag"] == event["etag"]
        assert payload["action"] == "created"
        assert event["published_at"] is not None


async def test_seeded_versions_make_one_long_history(
    service: tuple[httpx.AsyncClient, str],
) -> None:
    client, dsn = service
    url = "/v1/contexts/history/deep"
    assert (await client.put(url, json=PAYLOAD)).status_code == 201
    await _seed(dsn, seed_versions, Template("history", "deep"), 40)

    current = (await client.get(url)).json()
    assert current["version"] == 40
    versions = (await client.get(f"{url}/versions")).json()["items"]
    assert [item["version"] for item in versions] == list(range(1, 41))
    assert len({item["etag"] for item in versions}) == 40
    assert (await client.get(f"{url}/versions/17")).json()["etag"] == versions[16]["etag"]
    audit = (await client.get(f"{url}/audit")).json()["items"]
    assert [e["action"] for e in audit] == ["created"] + ["updated"] * 39
    same = await client.put(url, json=PAYLOAD)
    assert (same.status_code, same.json()["version"]) == (200, 40)
    appended = await client.put(url, json={**PAYLOAD, "labels": {"team": "y"}})
    assert appended.json()["version"] == 41


async def test_explain_analyzes_reads_and_updates_in_a_rolled_back_transaction(
    service: tuple[httpx.AsyncClient, str],
) -> None:
    client, dsn = service
    assert (await client.put(f"/v1/contexts/{NS}/{context_name(0)}", json=PAYLOAD)).is_success
    read = Statement(
        "SELECT version FROM contexts_current WHERE namespace = $1 AND name = $2",
        {1: f"'{NS}'", 2: f"'{context_name(0)}'"},
    )
    update = Statement(
        "UPDATE contexts_current SET kind = 'changed' WHERE namespace = $1", {1: f"'{NS}'"}
    )
    insert = Statement(
        "INSERT INTO context_labels (namespace, name, key, value) VALUES ($1, $2, 'k', 'v')",
        {1: f"'{NS}'", 2: f"'{context_name(0)}'"},
    )
    connection = await asyncpg.connect(dsn)
    try:
        plans = [await explain(connection, s) for s in (read, update, insert)]
        kinds = await connection.fetch("SELECT DISTINCT kind FROM contexts_current")
        labels = await connection.fetchval("SELECT count(*) FROM context_labels WHERE key = 'k'")
    finally:
        await connection.close()
    assert [p["explain"] for p in plans] == ["EXPLAIN (ANALYZE, BUFFERS)"] * 2 + ["EXPLAIN"]
    assert all(p["error"] is None for p in plans), plans
    assert "actual time=" in "\n".join(plans[0]["plan"])
    assert "actual time=" not in "\n".join(plans[2]["plan"])
    assert [row["kind"] for row in kinds] == ["document"]  # the UPDATE was rolled back
    assert labels == 0
