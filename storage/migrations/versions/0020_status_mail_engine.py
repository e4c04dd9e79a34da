"""status_mail: a source of the delivery engine (due_at and the engine's pending marks)

Subscriber mails go through the one e-mail channel and the delivery engine: the table gets
the lease columns of bot.core.leases.Leased (`due_at`, `pending_key`, `pending_since`) in
place of its own `next_attempt_at`. Pending rows stay due when they were due; failed rows
(the old sender's give-up) keep their error as given-up rows (pending, `due_at` NULL).

Revision ID: 0020
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0020"
down_revision: str | None = "0006"
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


def downgrade() -> None:
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
