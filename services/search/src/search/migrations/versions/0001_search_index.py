"""The search index: `search_contexts` with its full-text index, and applied event ids.

Both dialects get `search_contexts` (one row per context: its latest version or a tombstone)
and slipway.events' `slipway_processed_events`. The full-text parts differ:

- PostgreSQL: `document`, a generated `tsvector` of the runs of letters and digits
  (`simple` configuration: no stemming and no stop words, so both backends find the same
  words; name weight A, labels B, text D) with a GIN index; GIN indexes on `readers` and
  `writers` (text[], for the ACL's `&&`) and on `labels` (jsonb, `@>`).
- SQLite: `search_contexts_fts`, an FTS5 external-content table over (name, labels_text, text)
  with the `unicode61` tokenizer (diacritics kept, as PostgreSQL's `simple` keeps them), kept
  in step with `search_contexts` by triggers that index live rows only.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

TABLE = "search_contexts"
FTS = "search_contexts_fts"
PROCESSED = "slipway_processed_events"
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ENTRIES = sa.JSON().with_variant(postgresql.ARRAY(sa.Text()), "postgresql")
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _words(column: str, weight: str) -> str:
    # Runs of letters and digits, as SQLite's unicode61 tokenizer reads them: PostgreSQL's own
    # parser would keep host names, e-mail addresses, paths and decimals as single tokens.
    words = f"regexp_replace({column}, '[^[:alnum:]]+', ' ', 'g')"
    return f"setweight(to_tsvector('simple'::regconfig, {words}), '{weight}')"


DOCUMENT = " || ".join((_words("name", "A"), _words("labels_text", "B"), _words("text", "D")))
_FTS_COLUMNS = "name, labels_text, text"
SQLITE_FTS = (
    f"CREATE VIRTUAL TABLE {FTS} USING fts5({_FTS_COLUMNS}, content='{TABLE}', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 0')"
)
_FTS_INSERT = f"INSERT INTO {FTS}(rowid, {_FTS_COLUMNS})"
_FTS_DELETE = f"INSERT INTO {FTS}({FTS}, rowid, {_FTS_COLUMNS})"
SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER {TABLE}_ai AFTER INSERT ON {TABLE} BEGIN
        {_FTS_INSERT} SELECT new.id, new.name, new.labels_text, new.text WHERE NOT new.deleted;
    END""",
    f"""CREATE TRIGGER {TABLE}_ad AFTER DELETE ON {TABLE} BEGIN
        {_FTS_DELETE} SELECT 'delete', old.id, old.name, old.labels_text, old.text
            WHERE NOT old.deleted;
    END""",
    f"""CREATE TRIGGER {TABLE}_au AFTER UPDATE ON {TABLE} BEGIN
        {_FTS_DELETE} SELECT 'delete', old.id, old.name, old.labels_text, old.text
            WHERE NOT old.deleted;
        {_FTS_INSERT} SELECT new.id, new.name, new.labels_text, new.text WHERE NOT new.deleted;
    END""",
)


def upgrade() -> None:
    """Create the index table, its full-text index and the processed-events table."""
    op.create_table(
        TABLE,
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("namespace", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(255), nullable=False),
        sa.Column("labels", JSON, nullable=False),
        sa.Column("labels_text", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("readers", ENTRIES, nullable=False),
        sa.Column("writers", ENTRIES, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("namespace", "name", name=f"uq_{TABLE}_namespace_name"),
    )
    # slipway.events.processed_events_table as of this revision, frozen.
    op.create_table(
        PROCESSED,
        sa.Column("consumer", sa.String(255), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=f"pk_{PROCESSED}"),
    )
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            f"ALTER TABLE {TABLE} ADD COLUMN document tsvector "
            f"GENERATED ALWAYS AS ({DOCUMENT}) STORED"
        )
        op.create_index(f"ix_{TABLE}_document", TABLE, ["document"], postgresql_using="gin")
        op.create_index(f"ix_{TABLE}_readers", TABLE, ["readers"], postgresql_using="gin")
        op.create_index(f"ix_{TABLE}_writers", TABLE, ["writers"], postgresql_using="gin")
        op.create_index(
            f"ix_{TABLE}_labels",
            TABLE,
            ["labels"],
            postgresql_using="gin",
            postgresql_ops={"labels": "jsonb_path_ops"},
        )
    else:
        op.execute(SQLITE_FTS)
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)


def downgrade() -> None:
    """Drop the full-text index, the index table and the processed-events table."""
    if op.get_context().dialect.name == "postgresql":
        for index in ("labels", "writers", "readers", "document"):
            op.drop_index(f"ix_{TABLE}_{index}", table_name=TABLE)
    else:
        for suffix in ("au", "ad", "ai"):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_{suffix}")
        op.execute(f"DROP TABLE IF EXISTS {FTS}")
    op.drop_table(PROCESSED)
    op.drop_table(TABLE)
