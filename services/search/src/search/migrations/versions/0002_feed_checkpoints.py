"""Create `search_feed_checkpoints`: the HTTP change feed's last applied entry id.

The embedded default follows contexts' SSE feed (no Redis); the entry id of the last applied
event is kept here, per feed, so a restarted search resumes with `Last-Event-ID`. (With Redis
the consumer group keeps its own position and this table stays empty.)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

TABLE = "search_feed_checkpoints"


def upgrade() -> None:
    """Create the checkpoints table."""
    op.create_table(
        TABLE,
        sa.Column("feed", sa.String(255), nullable=False),
        sa.Column("position", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("feed", name=f"pk_{TABLE}"),
    )


def downgrade() -> None:
    """Drop the checkpoints table."""
    op.drop_table(TABLE)
