"""fan-out progress per delivery: which recipients a delivery has served, seen by every process

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 19:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delivery_recipients",
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["delivery_id"], ["deliveries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("delivery_id", "recipient"),
    )


def downgrade() -> None:
    op.drop_table("delivery_recipients")
