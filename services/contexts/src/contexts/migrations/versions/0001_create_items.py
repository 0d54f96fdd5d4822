"""Create the items table.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create `items`, with an index for listing by name."""
    op.create_table(
        "items",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
    )
    op.create_index("ix_items_name_id", "items", ["name", "id"])


def downgrade() -> None:
    """Drop `items`."""
    op.drop_index("ix_items_name_id", table_name="items")
    op.drop_table("items")
