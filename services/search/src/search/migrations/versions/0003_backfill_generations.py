"""Backfill generations: what lets a backfill remove the contexts its catalog no longer lists.

- `search_backfills`: one row per backfill (its id is the backfill's generation, when it
  started and finished, how many rows it removed); the current generation is the highest id
  (0 before the first backfill).
- `search_contexts.generation`: the generation current when the row was last written (by an
  event or a backfill) or last listed by a backfill's catalog. At the end of a complete pass,
  backfill `g` tombstones the live rows still below `g` (see `SqlSearchIndex.remove_unlisted`).
- SQLite: the full-text trigger after an update of `search_contexts` fires only when an
  indexed column (`name`, `labels_text`, `text`) or `deleted` is set, so that marking a row
  listed (only `generation` set) does not re-index its text.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

TABLE = "search_contexts"
FTS = "search_contexts_fts"
BACKFILLS = "search_backfills"
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_FTS_COLUMNS = "name, labels_text, text"
_FTS_INSERT = f"INSERT INTO {FTS}(rowid, {_FTS_COLUMNS})"
_FTS_DELETE = f"INSERT INTO {FTS}({FTS}, rowid, {_FTS_COLUMNS})"
_FTS_UPDATE_BODY = f"""BEGIN
        {_FTS_DELETE} SELECT 'delete', old.id, old.name, old.labels_text, old.text
            WHERE NOT old.deleted;
        {_FTS_INSERT} SELECT new.id, new.name, new.labels_text, new.text WHERE NOT new.deleted;
    END"""
# Revision 0001's trigger (any update), and this revision's (an indexed column or `deleted`).
SQLITE_UPDATE_TRIGGER_0001 = f"CREATE TRIGGER {TABLE}_au AFTER UPDATE ON {TABLE} {_FTS_UPDATE_BODY}"
SQLITE_UPDATE_TRIGGER = (
    f"CREATE TRIGGER {TABLE}_au AFTER UPDATE OF name, labels_text, text, deleted ON {TABLE} "
    f"{_FTS_UPDATE_BODY}"
)


def upgrade() -> None:
    """Add the backfills table and the rows' generation; narrow SQLite's update trigger."""
    op.create_table(
        BACKFILLS,
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed", sa.BigInteger(), nullable=True),
    )
    # A plain ALTER TABLE ADD COLUMN on both (SQLite's batch mode would copy the table and
    # lose its full-text triggers).
    op.add_column(
        TABLE, sa.Column("generation", sa.BigInteger(), nullable=False, server_default="0")
    )
    if op.get_context().dialect.name != "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_au")
        op.execute(SQLITE_UPDATE_TRIGGER)


def downgrade() -> None:
    """Restore revision 0002: the trigger on any update, no generations."""
    if op.get_context().dialect.name != "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_au")
        op.execute(SQLITE_UPDATE_TRIGGER_0001)
    if op.get_context().dialect.name == "postgresql":
        op.drop_column(TABLE, "generation")
    else:  # SQLite >= 3.35 drops a column in place, keeping the triggers
        op.execute(f"ALTER TABLE {TABLE} DROP COLUMN generation")
    op.drop_table(BACKFILLS)
