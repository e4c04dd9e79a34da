"""drills: incident.is_drill, drill_run, drill_step

Revision ID: 0017
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0017"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.add_column(
            sa.Column("is_drill", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "drill_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("scenario", sa.String(length=64), nullable=False),
        sa.Column("started_by", sa.String(length=32), nullable=False),
        sa.Column("started_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("statuspage_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("statuspage_message", sa.String(), nullable=False),
        sa.Column("ended_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id"),
    )
    op.create_table(
        "drill_step",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("speaker", sa.String(length=80), nullable=False),
        sa.Column("icon", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=150), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("due_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("played_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("pending_key", sa.String(length=64), nullable=True),
        sa.Column("pending_since", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "position", name="uq_drill_step"),
    )
    op.create_index("ix_drill_step_incident_id", "drill_step", ["incident_id"], unique=False)
    op.create_index("ix_drill_step_due_at", "drill_step", ["due_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_drill_step_due_at", table_name="drill_step")
    op.drop_index("ix_drill_step_incident_id", table_name="drill_step")
    op.drop_table("drill_step")
    op.drop_table("drill_run")
    with op.batch_alter_table("incident") as batch:
        batch.drop_column("is_drill")
