"""insert sentinel for deliveries: many new deliveries in one INSERT on SQLite

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 00:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("_sentinel", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("deliveries", "_sentinel")
