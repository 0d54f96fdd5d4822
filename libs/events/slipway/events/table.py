"""`outbox_table`: the lib-owned outbox schema, added to a service's own MetaData.

The same columns, keys and partial index on PostgreSQL and SQLite. `position` grows with
insertion order and is the order the relay publishes in; `event_id` is the event's stable
identity (consumers de-duplicate on it); `published_at` is NULL until the relay published it.
"""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from slipway.db import UtcDateTime

DEFAULT_TABLE_NAME = "slipway_outbox"
EVENT_ID_LENGTH = 64
NAME_LENGTH = 255

# JSONB on PostgreSQL (compact), JSON text elsewhere.
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# Autoincrementing 64-bit positions; SQLite only autoincrements an INTEGER PRIMARY KEY.
BigPosition = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def pending_index_name(name: str) -> str:
    """The name of the partial index the relay's scan of unpublished rows uses."""
    return f"ix_{name}_pending"


def outbox_columns() -> list[sa.Column[object]]:
    """Fresh column objects of the outbox (for a Table, or Alembic's `op.create_table`)."""
    return [
        sa.Column("position", BigPosition, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(EVENT_ID_LENGTH), nullable=False),
        sa.Column("stream", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("type", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("key", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("payload", Json, nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("published_at", UtcDateTime(), nullable=True),
    ]


def outbox_constraints(name: str) -> list[sa.Constraint]:
    """The outbox's keys, explicitly named so a service's naming convention cannot rename them."""
    return [
        sa.PrimaryKeyConstraint("position", name=f"pk_{name}"),
        sa.UniqueConstraint("event_id", name=f"uq_{name}_event_id"),
    ]


PENDING_WHERE = "published_at IS NULL"


def outbox_table(metadata: sa.MetaData, name: str = DEFAULT_TABLE_NAME) -> sa.Table:
    """The outbox as a Table on `metadata` (the service's, so its migrations see it)."""
    table = sa.Table(name, metadata, *outbox_columns(), *outbox_constraints(name))
    # The relay's scan: unpublished rows by position, a partial index on both backends.
    sa.Index(
        pending_index_name(name),
        table.c.position,
        postgresql_where=sa.text(PENDING_WHERE),
        sqlite_where=sa.text(PENDING_WHERE),
    )
    return table
