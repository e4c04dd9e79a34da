"""status_mail a source of the delivery engine; incident escalation; alert-group notices

status_mail: a source of the delivery engine (due_at and the engine's pending marks).

Subscriber mails go through the one e-mail channel and the delivery engine: the table gets
the lease columns of bot.core.leases.Leased (`due_at`, `pending_key`, `pending_since`) in
place of its own `next_attempt_at`. Pending rows stay due when they were due; failed rows
(the old sender's give-up) keep their error as given-up rows (pending, `due_at` NULL).

incident_escalation: incidents whose manager has not acknowledged, escalated level by level.
stakeholder_notice.incident_id may be NULL: an alert group's escalation SMS (no incident).

Revision ID: 0020
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0020"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("status_mail", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("due_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("pending_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("pending_since", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
    op.execute("UPDATE status_mail SET due_at = next_attempt_at WHERE state = 'pending'")
    op.execute("UPDATE status_mail SET state = 'pending' WHERE state = 'failed'")
    with op.batch_alter_table("status_mail", schema=None) as batch_op:
        batch_op.drop_index("ix_status_mail_state_due")
        batch_op.drop_column("next_attempt_at")
        batch_op.create_index(batch_op.f("ix_status_mail_due_at"), ["due_at"], unique=False)

    op.create_table(
        "incident_escalation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("policy", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("started_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("due_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id"),
    )
    with op.batch_alter_table("incident_escalation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_escalation_due_at"), ["due_at"], unique=False)
    with op.batch_alter_table("stakeholder_notice", schema=None) as batch_op:
        batch_op.alter_column("incident_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM stakeholder_notice WHERE incident_id IS NULL")
    with op.batch_alter_table("stakeholder_notice", schema=None) as batch_op:
        batch_op.alter_column("incident_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("incident_escalation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_escalation_due_at"))
    op.drop_table("incident_escalation")
    with op.batch_alter_table("status_mail", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_mail_due_at"))
        batch_op.add_column(
            sa.Column("next_attempt_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
    op.execute("UPDATE status_mail SET next_attempt_at = COALESCE(due_at, created_at)")
    op.execute("UPDATE status_mail SET state = 'failed' WHERE state = 'pending' AND due_at IS NULL")
    with op.batch_alter_table("status_mail", schema=None) as batch_op:
        batch_op.alter_column("next_attempt_at", nullable=False)
        batch_op.drop_column("pending_since")
        batch_op.drop_column("pending_key")
        batch_op.drop_column("due_at")
        batch_op.create_index(
            "ix_status_mail_state_due", ["state", "next_attempt_at"], unique=False
        )
