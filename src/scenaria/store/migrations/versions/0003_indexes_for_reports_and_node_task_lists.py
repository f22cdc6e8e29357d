"""indexes for reports and node task lists

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 06:20:03.525870
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_outbox_key", ["outbox_key"], unique=False)

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_scenario_node", ["scenario_id", "node_id"], unique=False)

    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tasks_scenario_node_state"))
        batch_op.create_index(
            "ix_tasks_scenario_node_due", ["scenario_id", "node_id", "due_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_scenario_node_due")
        batch_op.create_index(
            batch_op.f("ix_tasks_scenario_node_state"),
            ["scenario_id", "node_id", "state"],
            unique=False,
        )

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_scenario_node")

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_outbox_key")
