"""Give every context version a random ETag in place of the one derived from its content.

Revision 0001 stored ETags that were a hash of namespace, name, version and content, so anyone
shown one could test guesses of the content offline (issue 11). `context_versions.etag`
(NOT NULL since 0001) now holds 128 random bits per version, drawn when the version is
written. This revision draws a fresh one for every stored version, in the database, and
replaces the copies of the old ones a caller could still be sent: the payloads of events not
yet published, and the responses stored for idempotency keys (a replay must carry the
version's current ETag, or an `If-Match` with it would fail). Published events are history
and stay as they are.

Offline (`alembic upgrade --sql`) the stored responses cannot be read to be rewritten; the
script deletes those that carry an ETag instead, so a retried PUT or PATCH runs again (a no-op
on unchanged content) and a retried DELETE gets 404.

The downgrade changes nothing: 0001's code derives ETags from content when it reads a version
and ignores the stored column, so random values are harmless to it (and restoring the hashes
would restore the leak).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

BATCH_SIZE = 500

# 128 bits from the database's cryptographic random source, as 32 hex digits in quotes: on
# PostgreSQL 13+ gen_random_uuid() (pg_strong_random; two of them, 244 random bits, through
# SHA-256), on SQLite randomblob().
RANDOM_ETAG = {
    "postgresql": sa.text(
        """'"' || substr(encode(sha256(uuid_send(gen_random_uuid())"""
        """ || uuid_send(gen_random_uuid())), 'hex'), 1, 32) || '"'"""
    ),
    "sqlite": sa.text("""'"' || lower(hex(randomblob(16))) || '"'"""),
}
# The pending events' payloads get their version's new ETag.
PENDING_EVENT_ETAGS = {
    "postgresql": """
UPDATE outbox SET payload = jsonb_set(payload, '{etag}', to_jsonb(v.etag))
FROM context_versions AS v
WHERE outbox.published_at IS NULL
  AND v.namespace = outbox.namespace AND v.name = outbox.name AND v.version = outbox.version
""",
    "sqlite": """
UPDATE outbox SET payload = json_set(payload, '$.etag', (
    SELECT v.etag FROM context_versions AS v
    WHERE v.namespace = outbox.namespace AND v.name = outbox.name AND v.version = outbox.version
))
WHERE published_at IS NULL AND EXISTS (
    SELECT 1 FROM context_versions AS v
    WHERE v.namespace = outbox.namespace AND v.name = outbox.name AND v.version = outbox.version
)
""",
}
RESPONSES_WITH_AN_ETAG = {
    "postgresql": "DELETE FROM idempotency_keys WHERE headers ? 'etag'",
    "sqlite": "DELETE FROM idempotency_keys WHERE json_extract(headers, '$.etag') IS NOT NULL",
}

# Frozen copies of the tables as this revision reads and writes them.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
context_versions = sa.table(
    "context_versions",
    sa.column("namespace", sa.String()),
    sa.column("name", sa.String()),
    sa.column("version", sa.Integer()),
    sa.column("etag", sa.String()),
)
idempotency_keys = sa.table(
    "idempotency_keys",
    sa.column("key", sa.String()),
    sa.column("subject", sa.String()),
    sa.column("headers", JSON),
    sa.column("body", sa.Text()),
)

VersionKey = tuple[str, str, int]
# (key, subject, headers, body) of a stored idempotency response.
StoredResponse = sa.Row[Any, Any, Any, Any]


def _dialect() -> str:
    name = op.get_context().dialect.name
    if name not in RANDOM_ETAG:
        raise NotImplementedError(f"revision 0002 supports PostgreSQL and SQLite, not {name}")
    return name


def _stored_etag(headers: object) -> str | None:
    etag = headers.get("etag") if isinstance(headers, dict) else None
    return etag if isinstance(etag, str) else None


def _responses_with_an_etag(connection: sa.Connection) -> list[StoredResponse]:
    query = sa.select(
        idempotency_keys.c.key,
        idempotency_keys.c.subject,
        idempotency_keys.c.headers,
        idempotency_keys.c.body,
    )
    return [row for row in connection.execute(query) if _stored_etag(row.headers)]


def _versions_by_etag(connection: sa.Connection, etags: Sequence[str]) -> dict[str, VersionKey]:
    """The versions that carry these ETags, by ETag."""
    found: dict[str, VersionKey] = {}
    for start in range(0, len(etags), BATCH_SIZE):
        query = sa.select(
            context_versions.c.namespace,
            context_versions.c.name,
            context_versions.c.version,
            context_versions.c.etag,
        ).where(context_versions.c.etag.in_(etags[start : start + BATCH_SIZE]))
        for row in connection.execute(query):
            found[row.etag] = (row.namespace, row.name, row.version)
    return found


def _etag_of(connection: sa.Connection, key: VersionKey) -> str:
    namespace, name, version = key
    query = sa.select(context_versions.c.etag).where(
        context_versions.c.namespace == namespace,
        context_versions.c.name == name,
        context_versions.c.version == version,
    )
    return str(connection.execute(query).scalar_one())


def _rewrite_responses(
    connection: sa.Connection, responses: Sequence[StoredResponse], before: dict[str, VersionKey]
) -> None:
    """Stored responses carry their version's new ETag, in the header and in the body."""
    for row in responses:
        old = _stored_etag(row.headers)
        if old is None or old not in before:
            continue
        new = _etag_of(connection, before[old])
        # The opaque tags are 32 hex digits from a hash: replacing them in the body text
        # changes exactly the ETag (JSON escapes its quotes) and keeps every other byte.
        body = row.body.replace(old.strip('"'), new.strip('"'))
        connection.execute(
            sa.update(idempotency_keys)
            .where(idempotency_keys.c.key == row.key, idempotency_keys.c.subject == row.subject)
            .values(headers={**row.headers, "etag": new}, body=body)
        )


def _replace_etags(dialect: str) -> None:
    op.execute(sa.update(context_versions).values(etag=RANDOM_ETAG[dialect]))
    op.execute(PENDING_EVENT_ETAGS[dialect])


def upgrade() -> None:
    """Draw a new ETag for every version; pending events and stored responses follow."""
    dialect = _dialect()
    if context.is_offline_mode():
        _replace_etags(dialect)
        op.execute(RESPONSES_WITH_AN_ETAG[dialect])
        return
    connection = op.get_bind()
    responses = _responses_with_an_etag(connection)
    old_etags = sorted({etag for row in responses if (etag := _stored_etag(row.headers))})
    before = _versions_by_etag(connection, old_etags)
    _replace_etags(dialect)
    _rewrite_responses(connection, responses, before)


def downgrade() -> None:
    """Nothing to undo: revision 0001's code ignores the stored ETags (see the docstring)."""
