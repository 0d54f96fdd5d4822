"""Revision 0002 on a database written by revision 0001: every version gets a random ETag,
and the copies of the old ones a caller could still be sent (pending events, stored
idempotency responses) follow; on SQLite and on the real PostgreSQL."""

import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import JsonValue

from contexts.adapters.sql.tables import (
    context_versions,
    contexts_current,
)
from contexts.domain.hashing import canonical_json, content_hash, sha256_hex
from contexts.migrations import MIGRATIONS_DIR
from contexts.tests.integration.migration_support import (
    BACKENDS,
    database_at,
    old_idempotency_keys,
    old_outbox,
)
from contexts.tests.integration.sql_support import sql_world
from contexts.tests.unit.domain.builders import ALICE, KEY, document
from slipway.db import Database
from slipway.db.migrations import current_revision, downgrade, upgrade, upgrade_sql

NOW = datetime(2025, 1, 1, tzinfo=UTC)
RANDOM_ETAG = re.compile(r'"[0-9a-f]{32}"')


@pytest.fixture(params=BACKENDS)
async def at_0001(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A database migrated to revision 0001 only."""
    async with database_at(request.param, tmp_path, "0001") as database:
        yield database


def _etag_of_0001(namespace: str, name: str, version: int, digest: str) -> str:
    # Revision 0001's ETag: a hash of key, version and content hash (the oracle of issue 11).
    return f'"{sha256_hex(canonical_json([namespace, name, version, digest]))[:32]}"'


def _version_row(name: str, version: int, content: str) -> dict[str, Any]:
    body: dict[str, JsonValue] = {"content": content, "format": "text", "title": None}
    acl: dict[str, JsonValue] = {"readers": ["subject:bob"], "writers": []}
    digest = content_hash(
        {
            "kind": "document",
            "schema_version": 1,
            "body": body,
            "labels": {},
            "owner": "alice",
            "acl": acl,
            "deleted": False,
        }
    )
    return {
        "namespace": KEY.namespace,
        "name": name,
        "version": version,
        "kind": "document",
        "schema_version": 1,
        "body": body,
        "labels": {},
        "owner": "alice",
        "acl": acl,
        "deleted": False,
        "etag": _etag_of_0001(KEY.namespace, name, version, digest),
        "content_hash": digest,
        "created_at": NOW,
        "updated_at": NOW,
        "updated_by": "alice",
    }


def _event(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "namespace": row["namespace"],
        "name": row["name"],
        "version": row["version"],
        "payload": {
            "type": "context.changed",
            "event_id": str(uuid.uuid4()),
            "version": row["version"],
            "etag": row["etag"],
        },
        "created_at": NOW,
        "published_at": None,
    }


async def _write_as_0001(database: Database) -> list[dict[str, Any]]:
    """Two contexts with the same content, one at version 2; events; a stored response."""
    rows = [
        _version_row(KEY.name, 1, "same"),
        _version_row(KEY.name, 2, "changed"),
        _version_row("twin", 1, "same"),
    ]
    stored_body = json.dumps({"name": KEY.name, "version": 2, "etag": rows[1]["etag"]})
    async with database.engine.begin() as connection:
        await connection.execute(sa.insert(context_versions), rows)
        await connection.execute(
            sa.insert(contexts_current),
            [
                {"namespace": KEY.namespace, "name": name, "version": version}
                | {"kind": "document", "deleted": False}
                for name, version in ((KEY.name, 2), ("twin", 1))
            ],
        )
        await connection.execute(
            sa.insert(old_outbox),
            [_event(rows[0]) | {"published_at": NOW}, _event(rows[1]), _event(rows[2])],
        )
        await connection.execute(
            sa.insert(old_idempotency_keys).values(
                key="k1",
                subject="alice",
                request_hash="a" * 64,
                status=200,
                headers={"content-type": "application/json", "etag": rows[1]["etag"]},
                body=stored_body,
                created_at=NOW,
                expires_at=datetime(2999, 1, 1, tzinfo=UTC),
            )
        )
    return rows


async def _select(database: Database, query: sa.Select[Any]) -> list[sa.Row[Any]]:
    async with database.engine.connect() as connection:
        return list((await connection.execute(query)).all())


async def _stored_response(database: Database) -> sa.Row[Any]:
    (row,) = await _select(
        database,
        sa.select(old_idempotency_keys.c.headers, old_idempotency_keys.c.body).where(
            old_idempotency_keys.c.key == "k1", old_idempotency_keys.c.subject == "alice"
        ),
    )
    return row


async def test_upgrade_gives_every_version_a_fresh_random_etag(at_0001: Database) -> None:
    old = await _write_as_0001(at_0001)

    await upgrade(at_0001.url, MIGRATIONS_DIR, "0002")

    assert await current_revision(at_0001.url, MIGRATIONS_DIR) == "0002"
    versions = await _select(
        at_0001,
        sa.select(
            context_versions.c.name, context_versions.c.version, context_versions.c.etag
        ).order_by(context_versions.c.name, context_versions.c.version),
    )
    new = {(row.name, row.version): row.etag for row in versions}
    assert set(new) == {(row["name"], row["version"]) for row in old}
    assert all(RANDOM_ETAG.fullmatch(etag) for etag in new.values())
    assert len(set(new.values())) == len(new)  # the twin with equal content included
    assert not {row["etag"] for row in old} & set(new.values())


async def test_pending_events_and_stored_responses_carry_the_new_etags(at_0001: Database) -> None:
    old = await _write_as_0001(at_0001)
    stored_before = await _stored_response(at_0001)

    await upgrade(at_0001.url, MIGRATIONS_DIR, "0002")

    etags = {
        (row.name, row.version): row.etag
        for row in await _select(at_0001, sa.select(context_versions))
    }
    events = await _select(at_0001, sa.select(old_outbox).order_by(old_outbox.c.position))
    published, *pending = events
    assert published.payload["etag"] == old[0]["etag"]  # history, already delivered
    assert [event.payload["etag"] for event in pending] == [
        etags[(KEY.name, 2)],
        etags[("twin", 1)],
    ]
    stored = await _stored_response(at_0001)
    new_etag = etags[(KEY.name, 2)]
    assert stored.headers["etag"] == new_etag
    assert json.loads(stored.body)["etag"] == new_etag
    # Every other byte of the replay is as it was stored.
    assert stored.body == stored_before.body.replace(old[1]["etag"].strip('"'), new_etag.strip('"'))


async def test_the_registry_serves_and_honours_the_migrated_etags(at_0001: Database) -> None:
    await _write_as_0001(at_0001)
    await upgrade(at_0001.url, MIGRATIONS_DIR)
    (stored,) = await _select(
        at_0001,
        sa.select(context_versions.c.etag).where(
            context_versions.c.name == KEY.name, context_versions.c.version == 2
        ),
    )
    world = sql_world(at_0001)

    current = await world.registry.get(ALICE, KEY)
    assert current.etag == stored.etag
    written = await world.registry.put(ALICE, KEY, document("next"), if_match=stored.etag)
    assert (written.context.version, written.changed) == (3, True)
    assert RANDOM_ETAG.fullmatch(written.context.etag)


async def test_downgrade_to_0001_and_upgrade_again(at_0001: Database) -> None:
    await _write_as_0001(at_0001)
    await upgrade(at_0001.url, MIGRATIONS_DIR)
    first = await _select(at_0001, sa.select(context_versions.c.etag))

    await downgrade(at_0001.url, MIGRATIONS_DIR, "0001")
    assert await current_revision(at_0001.url, MIGRATIONS_DIR) == "0001"
    assert await _select(at_0001, sa.select(context_versions.c.etag)) == first
    await upgrade(at_0001.url, MIGRATIONS_DIR)

    second = await _select(at_0001, sa.select(context_versions.c.etag))
    assert not {row.etag for row in first} & {row.etag for row in second}


def test_the_offline_script_draws_etags_in_the_database_and_drops_stale_replays() -> None:
    postgres = upgrade_sql("postgresql://user@localhost/contexts", MIGRATIONS_DIR)
    sqlite = upgrade_sql("sqlite:///contexts.db", MIGRATIONS_DIR)

    assert "gen_random_uuid()" in postgres
    assert "randomblob(16)" in sqlite
    for script in (postgres, sqlite):
        assert "UPDATE context_versions SET etag=" in script
        assert "UPDATE outbox SET payload" in script
        assert "DELETE FROM idempotency_keys" in script
