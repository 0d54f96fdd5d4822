"""The index's tables, one definition for PostgreSQL and SQLite (what env.py compares with).

`search_contexts` holds one row per context ever indexed: its latest version, or a tombstone
(`deleted`, no text and no ACL) that remembers a removal's version, so a late older upsert
cannot bring a deleted context back. Besides these columns, migration 0001 gives it

- on PostgreSQL: `document`, a generated `tsvector` (name weight A, labels B, text D, the
  `simple` configuration) with a GIN index, and GIN indexes on `readers`, `writers` (text[])
  and `labels` (jsonb);
- on SQLite: `search_contexts_fts`, an FTS5 external-content table over (name, labels_text,
  text), kept in step by triggers that index live rows only.
"""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from slipway.db import UtcDateTime
from slipway.events import processed_events_table

metadata = sa.MetaData()

CONTEXTS_TABLE = "search_contexts"
FTS_TABLE = "search_contexts_fts"
BACKFILLS_TABLE = "search_backfills"
# PostgreSQL keeps labels as jsonb and ACL entries as text[]; SQLite as JSON text.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ENTRIES = sa.JSON().with_variant(postgresql.ARRAY(sa.Text()), "postgresql")
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

contexts = sa.Table(
    CONTEXTS_TABLE,
    metadata,
    sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("namespace", sa.String(255), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("version", sa.BigInteger(), nullable=False),
    sa.Column("deleted", sa.Boolean(), nullable=False),
    sa.Column("kind", sa.String(255), nullable=False),
    sa.Column("labels", JSON, nullable=False),
    # The labels as searchable text: "key value key value ...".
    sa.Column("labels_text", sa.Text(), nullable=False),
    sa.Column("owner", sa.String(255), nullable=False),
    sa.Column("readers", ENTRIES, nullable=False),
    sa.Column("writers", ENTRIES, nullable=False),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    # The backfill generation current when the row was last written (event or backfill) or
    # last listed by a backfill's catalog (migration 0003; see `SqlSearchIndex`).
    sa.Column("generation", sa.BigInteger(), nullable=False, server_default="0"),
    sa.UniqueConstraint("namespace", "name", name=f"uq_{CONTEXTS_TABLE}_namespace_name"),
)

# One row per backfill: its id is the backfill's generation (the current generation is the
# highest id, 0 before any backfill), with when it ran and how many rows it removed.
backfills = sa.Table(
    BACKFILLS_TABLE,
    metadata,
    sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("finished_at", UtcDateTime(), nullable=True),
    sa.Column("removed", sa.BigInteger(), nullable=True),
)

# slipway.events' record of applied event ids (`slipway_processed_events`), for `apply`.
processed_events = processed_events_table(metadata)
