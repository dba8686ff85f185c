"""indexes for the last day's delivery statistics

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 12:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_deliveries_finished_at", "deliveries", ["finished_at"])
    op.create_index("ix_delivery_attempts_started_at", "delivery_attempts", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_delivery_attempts_started_at", table_name="delivery_attempts")
    op.drop_index("ix_deliveries_finished_at", table_name="deliveries")
