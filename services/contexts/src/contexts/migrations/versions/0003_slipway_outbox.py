"""Move the outbox to slipway.events' table: `slipway_outbox` replaces `outbox`.

The events pipeline is slipway.events' now (issue 11): its `Outbox` writes and its relay reads
`slipway_outbox` (the lib's columns, keys and partial index, frozen here as of this revision).
Events not yet published move across, in position order, with their identity: `event_id` is
the payload's (the `ContextChanged.event_id`, so a consumer de-duplicating on it sees the same
event), `stream` the namespace, `type` "context.changed", `key` the context's name, and
`occurred_at` the old row's `created_at` (written in the change's transaction). Published
events are history and are dropped with the old table. Plain SQL on PostgreSQL and SQLite, so
`alembic upgrade --sql` works too.

The downgrade recreates `outbox` as revision 0001 made it and moves the unpublished events back.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

TABLE = "slipway_outbox"

# Frozen copies of the column types as of this revision (slipway.events.table, 0001).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
PENDING = sa.text("published_at IS NULL")

# The unpublished events, each way; the payload's fields are read per dialect.
MOVE_UP = """
INSERT INTO slipway_outbox (event_id, stream, type, key, payload, occurred_at)
SELECT {event_id}, namespace, 'context.changed', name, payload, created_at
FROM outbox WHERE published_at IS NULL ORDER BY position
"""
MOVE_DOWN = """
INSERT INTO outbox (namespace, name, version, payload, created_at)
SELECT stream, key, {version}, payload, occurred_at
FROM slipway_outbox WHERE published_at IS NULL AND type = 'context.changed' ORDER BY position
"""
MOVES = {
    "postgresql": (
        MOVE_UP.format(event_id="payload->>'event_id'"),
        MOVE_DOWN.format(version="(payload->>'version')::integer"),
    ),
    "sqlite": (
        MOVE_UP.format(event_id="json_extract(payload, '$.event_id')"),
        MOVE_DOWN.format(version="json_extract(payload, '$.version')"),
    ),
}


def _dialect() -> str:
    name = op.get_context().dialect.name
    if name not in MOVES:
        raise NotImplementedError(f"revision 0003 supports PostgreSQL and SQLite, not {name}")
    return name


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create `slipway_outbox`, move the unpublished events into it, drop `outbox`."""
    dialect = _dialect()
    op.create_table(
        TABLE,
        sa.Column("position", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("stream", sa.String(255), nullable=False),
        sa.Column("type", sa.String(255), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        _timestamp("occurred_at"),
        _timestamp("published_at", nullable=True),
        sa.PrimaryKeyConstraint("position", name=f"pk_{TABLE}"),
        sa.UniqueConstraint("event_id", name=f"uq_{TABLE}_event_id"),
    )
    op.create_index(
        f"ix_{TABLE}_pending",
        TABLE,
        ["position"],
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )
    op.execute(MOVES[dialect][0])
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.drop_table("outbox")


def downgrade() -> None:
    """Recreate `outbox` (as 0001 made it), move the unpublished events back, drop ours."""
    dialect = _dialect()
    op.create_table(
        "outbox",
        sa.Column("position", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("namespace", sa.String(63), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        _timestamp("created_at"),
        _timestamp("published_at", nullable=True),
        sa.PrimaryKeyConstraint("position", name="pk_outbox"),
    )
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["position"],
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )
    op.execute(MOVES[dialect][1])
    op.drop_index(f"ix_{TABLE}_pending", table_name=TABLE)
    op.drop_table(TABLE)
