"""database access groups

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 17:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing databases get no groups: visible to everyone, as they were.
    with op.batch_alter_table("databases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("groups", sa.JSON(), server_default=sa.text("'[]'"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("databases", schema=None) as batch_op:
        batch_op.drop_column("groups")
