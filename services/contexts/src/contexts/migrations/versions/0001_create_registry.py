"""Create the registry: context versions, the current pointer, labels, audit log, outbox and
idempotency keys; on PostgreSQL, a trigger keeps the audit log append-only.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copies of the column types in contexts.adapters.sql.tables as of this revision.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NAME = sa.String(63)
SUBJECT = sa.String(255)
HASH = sa.String(64)


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


AUDIT_TRIGGER_FUNCTION = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""
# Statement-level, so even an UPDATE or DELETE matching no row is refused; TRUNCATE too.
AUDIT_TRIGGER = """
CREATE TRIGGER audit_log_append_only
BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()
"""


def _is_postgresql() -> bool:
    return op.get_context().dialect.name == "postgresql"


def upgrade() -> None:
    """Create every table of the registry (and the audit trigger on PostgreSQL)."""
    op.create_table(
        "context_versions",
        sa.Column("namespace", NAME, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", NAME, nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("body", JSON, nullable=False),
        sa.Column("labels", JSON, nullable=False),
        sa.Column("owner", SUBJECT, nullable=False),
        sa.Column("acl", JSON, nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("etag", sa.String(34), nullable=False),
        sa.Column("content_hash", HASH, nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.Column("updated_by", SUBJECT, nullable=False),
        sa.PrimaryKeyConstraint("namespace", "name", "version", name="pk_context_versions"),
        sa.CheckConstraint("version >= 1", name="ck_context_versions_version_positive"),
    )
    op.create_table(
        "contexts_current",
        sa.Column("namespace", NAME, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", NAME, nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("namespace", "name", name="pk_contexts_current"),
        sa.ForeignKeyConstraint(
            ["namespace", "name", "version"],
            ["context_versions.namespace", "context_versions.name", "context_versions.version"],
            name="fk_contexts_current_namespace_name_version_context_versions",
        ),
    )
    op.create_index(
        "ix_contexts_current_namespace_kind_name",
        "contexts_current",
        ["namespace", "kind", "name"],
    )
    op.create_table(
        "context_labels",
        sa.Column("namespace", NAME, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("key", sa.String(63), nullable=False),
        sa.Column("value", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("namespace", "name", "key", name="pk_context_labels"),
        sa.ForeignKeyConstraint(
            ["namespace", "name"],
            ["contexts_current.namespace", "contexts_current.name"],
            name="fk_context_labels_namespace_name_contexts_current",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_context_labels_namespace_key_value_name",
        "context_labels",
        ["namespace", "key", "value", "name"],
    )
    op.create_table(
        "audit_log",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("actor", SUBJECT, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("namespace", NAME, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("before_hash", HASH, nullable=True),
        sa.Column("after_hash", HASH, nullable=False),
        sa.Column("request_id", sa.Text(), nullable=True),
        _timestamp("occurred_at"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        sa.UniqueConstraint("entry_id", name="uq_audit_log_entry_id"),
    )
    op.create_index("ix_audit_log_namespace_name_id", "audit_log", ["namespace", "name", "id"])
    op.create_table(
        "outbox",
        sa.Column("position", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("namespace", NAME, nullable=False),
        sa.Column("name", NAME, nullable=False),
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
        postgresql_where=sa.text("published_at IS NULL"),
        sqlite_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("subject", SUBJECT, nullable=False),
        sa.Column("request_hash", HASH, nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("headers", JSON, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        _timestamp("created_at"),
        _timestamp("expires_at"),
        sa.PrimaryKeyConstraint("key", "subject", name="pk_idempotency_keys"),
    )
    op.create_index("ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"])
    if _is_postgresql():
        op.execute(AUDIT_TRIGGER_FUNCTION)
        op.execute(AUDIT_TRIGGER)


def downgrade() -> None:
    """Drop the trigger and every table of the registry."""
    if _is_postgresql():
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    op.drop_index("ix_idempotency_keys_expires_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_audit_log_namespace_name_id", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_context_labels_namespace_key_value_name", table_name="context_labels")
    op.drop_table("context_labels")
    op.drop_index("ix_contexts_current_namespace_kind_name", table_name="contexts_current")
    op.drop_table("contexts_current")
    op.drop_table("context_versions")
