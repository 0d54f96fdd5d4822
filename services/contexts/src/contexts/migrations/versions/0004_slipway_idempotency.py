"""Move idempotency to slipway's table: `slipway_idempotency` replaces `idempotency_keys`.

`Idempotency-Key` is slipway.web's `IdempotencyMiddleware` now (issue 11), on slipway.db's
`SqlIdempotencyStore`: one row per (subject, key) that is first a reservation (taken before
the handler runs, so of concurrent first requests in any number of instances exactly one
runs) and then the stored response, byte for byte. The table's columns, key and index are
frozen here as slipway.db's `create_idempotency_table` made them as of this revision.

The stored responses are dropped, not moved: they are a replay cache of at most 24 hours, and
the old rows cannot be carried over, since they were keyed by another fingerprint of the
request (its parsed JSON body, where slipway's hashes the body bytes), so a retry would be
refused as a different request. A request retried across the upgrade runs again instead: a
repeated PUT or PATCH of the same content is a no-op (200, no new version), a repeated DELETE
gets 404.

The downgrade recreates `idempotency_keys` as revision 0001 made it, empty, for the same reason.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

TABLE = "slipway_idempotency"
OLD_TABLE = "idempotency_keys"

# Frozen copies of the column types as of this revision (slipway.db.idempotency, 0001).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _timestamp(name: str) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    """Create `slipway_idempotency` and drop `idempotency_keys` with its stored responses."""
    op.create_table(
        TABLE,
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),  # NULL while in progress
        sa.Column("headers", sa.Text(), nullable=True),  # JSON list of [name, value]
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),  # lease, then TTL: Unix seconds
        sa.PrimaryKeyConstraint("subject", "key", name=f"pk_{TABLE}"),
    )
    op.create_index(f"ix_{TABLE}_expires_at", TABLE, ["expires_at"])
    op.drop_index(f"ix_{OLD_TABLE}_expires_at", table_name=OLD_TABLE)
    op.drop_table(OLD_TABLE)


def downgrade() -> None:
    """Recreate `idempotency_keys` (as 0001 made it, empty) and drop `slipway_idempotency`."""
    op.create_table(
        OLD_TABLE,
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("headers", JSON, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        _timestamp("created_at"),
        _timestamp("expires_at"),
        sa.PrimaryKeyConstraint("key", "subject", name=f"pk_{OLD_TABLE}"),
    )
    op.create_index(f"ix_{OLD_TABLE}_expires_at", OLD_TABLE, ["expires_at"])
    op.drop_index(f"ix_{TABLE}_expires_at", table_name=TABLE)
    op.drop_table(TABLE)
