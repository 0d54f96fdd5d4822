"""Create the items table, slipway.db's idempotency keys and slipway.events' outbox.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

IDEMPOTENCY = "slipway_idempotency"

OUTBOX = "slipway_outbox"
# slipway.events.outbox_table as of this revision, frozen: a later lib must not change it.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
POSITION = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
PENDING = sa.text("published_at IS NULL")


def upgrade() -> None:
    """Create `items` (indexed for listing by name), the idempotency keys, the outbox."""
    op.create_table(
        "items",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
    )
    op.create_index("ix_items_name_id", "items", ["name", "id"])
    # slipway.db.idempotency_table as of this revision, frozen: a later lib must not change it.
    op.create_table(
        IDEMPOTENCY,
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("headers", sa.Text(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("subject", "key", name=f"pk_{IDEMPOTENCY}"),
    )
    op.create_index(f"ix_{IDEMPOTENCY}_expires_at", IDEMPOTENCY, ["expires_at"])
    op.create_table(
        OUTBOX,
        sa.Column("position", POSITION, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("stream", sa.String(255), nullable=False),
        sa.Column("type", sa.String(255), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("position", name=f"pk_{OUTBOX}"),
        sa.UniqueConstraint("event_id", name=f"uq_{OUTBOX}_event_id"),
    )
    # The relay's scan of unpublished events, by position.
    op.create_index(
        f"ix_{OUTBOX}_pending", OUTBOX, ["position"], postgresql_where=PENDING, sqlite_where=PENDING
    )


def downgrade() -> None:
    """Drop the outbox, the idempotency keys and `items`."""
    op.drop_index(f"ix_{OUTBOX}_pending", table_name=OUTBOX)
    op.drop_table(OUTBOX)
    op.drop_index(f"ix_{IDEMPOTENCY}_expires_at", table_name=IDEMPOTENCY)
    op.drop_table(IDEMPOTENCY)
    op.drop_index("ix_items_name_id", table_name="items")
    op.drop_table("items")
