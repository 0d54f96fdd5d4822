"""The contexts benchmark's "limit": bare FastAPI on a raw asyncpg pool, the service's statements.

`python -m slipway_bench.limit_app --port PORT --dsn postgresql://...` serves, on the tables the
contexts service's migrations created, the same SQL the service's adapter
(`contexts.adapters.sql`) runs per request, and nothing else: no auth, no middleware, no
validation beyond reading the JSON, no logging. Served by uvicorn like the service (uvloop,
httptools; one process, or `--workers N` processes on one socket), pinned by the benchmark to
the service's cores.

- `GET /v1/contexts/{ns}/{name}`: the adapter's one indexed SELECT of the latest version;
- `PUT` / `PATCH` (RFC 7396 merge of `body` and `labels`): one transaction with
  `SELECT ... FOR UPDATE` of the `contexts_current` row, the latest version, `INSERT` of the
  version, the pointer move (an INSERT for version 1), the labels replaced, the audit row and
  the outbox row, as `SqlContextRepository.get(for_update=True)`, `.append`, `SqlAuditLog` and
  `SqlOutbox` do on PostgreSQL;
- `GET /v1/contexts/{ns}?limit=N`: the adapter's page query (pointer join, by name), N + 1
  rows: the one beyond the page says whether there is a next one.
"""

import argparse
import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import orjson
import uvicorn
from fastapi import FastAPI, Request, Response

from contexts.domain.patch import merge_patch  # the same RFC 7396 merge as the service
from slipway_bench.server import HOST, UVICORN_OPTIONS

SUBJECT = "bench"
SCHEMA_VERSION = 1
LOCK_CURRENT = (  # SqlContextRepository._lock_for_write on PostgreSQL
    "SELECT version FROM contexts_current WHERE namespace = $1 AND name = $2 FOR UPDATE"
)
SELECT_LATEST = (  # SqlContextRepository.get: the latest version, tombstones included
    "SELECT namespace, name, version, kind, schema_version, body, labels, owner, acl, deleted,"
    " etag, content_hash, created_at, updated_at, updated_by FROM context_versions"
    " WHERE namespace = $1 AND name = $2 ORDER BY version DESC LIMIT 1"
)
SELECT_PAGE = (  # SqlContextRepository.list_namespace without filters or cursor
    "SELECT v.namespace, v.name, v.version, v.kind, v.schema_version, v.body, v.labels,"
    " v.owner, v.acl, v.deleted, v.etag, v.content_hash, v.created_at, v.updated_at,"
    " v.updated_by FROM contexts_current c JOIN context_versions v"
    " ON v.namespace = c.namespace AND v.name = c.name AND v.version = c.version"
    " WHERE c.namespace = $1 AND c.deleted IS false ORDER BY c.name LIMIT $2"
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
INSERT_OUTBOX = (  # SqlOutbox.add: slipway.events' Outbox.add
    "INSERT INTO slipway_outbox (event_id, stream, type, key, payload, occurred_at)"
    " VALUES ($1, $2, $3, $4, $5, $6)"
)
NOTIFY_OUTBOX = "SELECT pg_notify('slipway_outbox', '')"  # ...wakes the relays on commit


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _json(status: int, value: Any) -> Response:
    return Response(orjson.dumps(value), status_code=status, media_type="application/json")


async def _set_json_codecs(connection: asyncpg.Connection) -> None:
    for json_type in ("json", "jsonb"):
        await connection.set_type_codec(
            json_type, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def write(
    connection: asyncpg.Connection,
    ns: str,
    name: str,
    *,
    kind: str | None,
    body: Any,
    labels: Any,
    merge: bool,
) -> tuple[int, dict[str, Any] | None]:
    """One write transaction, the service's statements; (status, the new row or None)."""
    async with connection.transaction():
        await connection.fetchval(LOCK_CURRENT, ns, name)
        previous = await connection.fetchrow(SELECT_LATEST, ns, name)
        live = previous is not None and not previous["deleted"]
        if merge:
            if previous is None or not live:
                return 404, None
            kind = previous["kind"]
            body = merge_patch(previous["body"], body)
            labels = merge_patch(previous["labels"], labels or {})
        kind = kind or "document"
        labels = dict(labels or {})
        now = datetime.now(UTC)
        owner = SUBJECT if previous is None else previous["owner"]
        acl = {"readers": [], "writers": []} if previous is None else previous["acl"]
        digest = _sha256(
            _canonical(
                {
                    "kind": kind,
                    "schema_version": SCHEMA_VERSION,
                    "body": body,
                    "labels": labels,
                    "owner": owner,
                    "acl": acl,
                    "deleted": False,
                }
            )
        )
        if previous is not None and live and previous["content_hash"] == digest:
            return 200, dict(previous)  # the domain's no-op: the same content, no version
        version = 1 if previous is None else previous["version"] + 1
        etag = f'"{_sha256(_canonical([ns, name, version, digest]))[:32]}"'
        created_at = previous["created_at"] if previous is not None and live else now
        row = {
            "namespace": ns,
            "name": name,
            "version": version,
            "kind": kind,
            "schema_version": SCHEMA_VERSION,
            "body": body,
            "labels": labels,
            "owner": owner,
            "acl": acl,
            "deleted": False,
            "etag": etag,
            "content_hash": digest,
            "created_at": created_at,
            "updated_at": now,
            "updated_by": SUBJECT,
        }
        await connection.execute(INSERT_VERSION, *row.values())
        if version == 1:
            await connection.execute(INSERT_CURRENT, ns, name, 1, kind, False)
        else:
            moved = await connection.execute(
                MOVE_CURRENT, ns, name, version, kind, False, version - 1
            )
            if moved != "UPDATE 1":
                return 409, None
        await connection.execute(DELETE_LABELS, ns, name)
        if labels:
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
        await connection.execute(
            INSERT_OUTBOX, event["event_id"], ns, "context.changed", name, event, now
        )
        await connection.execute(NOTIFY_OUTBOX)
    return (201 if version == 1 else 200), row


def build_app(dsn: str, pool_size: int) -> FastAPI:
    """The limit app on a pool of `pool_size` connections to `dsn`."""
    state: dict[str, asyncpg.Pool] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with asyncpg.create_pool(
            dsn,
            min_size=pool_size,
            max_size=pool_size,
            init=_set_json_codecs,
            server_settings={"application_name": "contexts-bench-limit"},
        ) as pool:
            state["pool"] = pool
            yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/ready")
    async def ready() -> Response:
        return _json(200, {"status": "ready"})

    @app.get("/v1/contexts/{ns}/{name}")
    async def get_context(ns: str, name: str) -> Response:
        row = await state["pool"].fetchrow(SELECT_LATEST, ns, name)
        if row is None or row["deleted"]:
            return _json(404, {"title": "Not Found"})
        return _json(200, dict(row))

    async def write_response(ns: str, name: str, request: Request, *, merge: bool) -> Response:
        submitted = orjson.loads(await request.body())
        async with state["pool"].acquire() as connection:
            status, row = await write(
                connection,
                ns,
                name,
                kind=None if merge else submitted.get("kind"),
                body=submitted.get("body", {}) if merge else submitted.get("body"),
                labels=submitted.get("labels"),
                merge=merge,
            )
        return _json(status, row)

    @app.put("/v1/contexts/{ns}/{name}")
    async def put_context(ns: str, name: str, request: Request) -> Response:
        return await write_response(ns, name, request, merge=False)

    @app.patch("/v1/contexts/{ns}/{name}")
    async def patch_context(ns: str, name: str, request: Request) -> Response:
        return await write_response(ns, name, request, merge=True)

    @app.get("/v1/contexts/{ns}")
    async def list_contexts(ns: str, limit: int = 50) -> Response:
        # One row beyond the page, as any cursor pagination needs to know whether a next page
        # exists (the service reads a batch of MAX_PAGE_SIZE + 1 rows: more, not less).
        rows = await state["pool"].fetch(SELECT_PAGE, ns, limit + 1)
        return _json(200, {"items": [dict(row) for row in rows[:limit]]})

    return app


DSN_VARIABLE = "SLIPWAY_BENCH_LIMIT_DSN"
POOL_SIZE_VARIABLE = "SLIPWAY_BENCH_LIMIT_POOL_SIZE"


def app_from_environment() -> FastAPI:
    """`build_app` from `SLIPWAY_BENCH_LIMIT_DSN` and `..._POOL_SIZE`: each worker's factory."""
    return build_app(os.environ[DSN_VARIABLE], int(os.environ[POOL_SIZE_VARIABLE]))


def main() -> None:
    """Command line entry point of the limit server subprocess."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dsn", required=True, help="postgresql://... of the migrated database")
    parser.add_argument("--pool-size", type=int, default=15, help="connections per worker")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args()
    # The workers (uvicorn's Multiprocess: one shared listening socket, spawned processes)
    # import the app by name, so its arguments travel in the environment.
    os.environ[DSN_VARIABLE] = args.dsn
    os.environ[POOL_SIZE_VARIABLE] = str(args.pool_size)
    uvicorn.run(
        "slipway_bench.limit_app:app_from_environment",
        factory=True,
        host=HOST,
        port=args.port,
        workers=args.workers,
        lifespan="on",
        log_config=None,
        access_log=False,
        **UVICORN_OPTIONS,
    )


if __name__ == "__main__":
    main()
