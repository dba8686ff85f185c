"""alert lifecycle: dedup keys, labels, links, state, occurrences, repeats; notifications per
delivery; silences

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 19:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("state != 'resolved'")


def upgrade() -> None:
    op.create_table(
        "silences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("matchers", sa.JSON(), nullable=False),
        sa.Column("starts_at", app.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", app.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", app.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_silences")),
    )
    op.create_index(op.f("ix_silences_ends_at"), "silences", ["ends_at"])
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dedup_key", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("labels", sa.JSON(), server_default="{}", nullable=False))
        batch_op.add_column(sa.Column("links", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(
            sa.Column("state", sa.String(length=16), server_default="firing", nullable=False)
        )
        batch_op.add_column(
            sa.Column("occurrences", sa.Integer(), server_default="1", nullable=False)
        )
        batch_op.add_column(
            sa.Column("last_seen_at", app.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("notified_at", app.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("repeats", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("acknowledged_by", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column("acknowledged_at", app.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("resolved_at", app.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("silenced", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("silence_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_alerts_silence_id_silences"),
            "silences",
            ["silence_id"],
            ["id"],
            ondelete="SET NULL",
        )
    # alerts from before had one notification each, made when they were created
    op.execute("UPDATE alerts SET last_seen_at = created_at, notified_at = created_at")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.alter_column(
            "last_seen_at", existing_type=app.models.UTCDateTime(timezone=True), nullable=False
        )
    op.create_index(
        "ix_alerts_open_dedup_key",
        "alerts",
        ["dedup_key"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("notification", sa.String(length=32), server_default="firing", nullable=False)
        )
        batch_op.drop_constraint("uq_deliveries_alert_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_deliveries_alert_id", ["alert_id", "channel", "notification"]
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint("uq_deliveries_alert_id", type_="unique")
        batch_op.create_unique_constraint("uq_deliveries_alert_id", ["alert_id", "channel"])
        batch_op.drop_column("notification")
    op.drop_index("ix_alerts_open_dedup_key", table_name="alerts")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_alerts_silence_id_silences"), type_="foreignkey")
        for column in (
            "silence_id",
            "silenced",
            "resolved_at",
            "acknowledged_at",
            "acknowledged_by",
            "repeats",
            "notified_at",
            "last_seen_at",
            "occurrences",
            "state",
            "links",
            "labels",
            "dedup_key",
        ):
            batch_op.drop_column(column)
    op.drop_index(op.f("ix_silences_ends_at"), table_name="silences")
    op.drop_table("silences")
