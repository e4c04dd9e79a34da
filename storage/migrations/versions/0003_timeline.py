"""timeline

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "timeline_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("occurred_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("author", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("author_name", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("files", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("channel_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("message_ts", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("thread_ts", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("permalink", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=True),
        sa.Column("added_via", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("added_by", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("event_key", sqlmodel.sql.sqltypes.AutoString(length=96), nullable=True),
        sa.Column("edited_ts", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("deleted_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "channel_id", "message_ts", name="uq_timeline_message"),
        sa.UniqueConstraint("incident_id", "event_key", name="uq_timeline_event"),
    )
    with op.batch_alter_table("timeline_entry", schema=None) as batch_op:
        batch_op.create_index(
            "ix_timeline_entry_incident_time", ["incident_id", "occurred_at"], unique=False
        )
        batch_op.create_index(
            "ix_timeline_entry_message", ["channel_id", "message_ts"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("timeline_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_timeline_entry_message")
        batch_op.drop_index("ix_timeline_entry_incident_time")

    op.drop_table("timeline_entry")
