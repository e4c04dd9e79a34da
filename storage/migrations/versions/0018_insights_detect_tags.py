"""insights: incident.detected_at (time to detect), durations kept by triggers, incident tags

The incident's milestone durations (`*_seconds`) are kept by the database: a BEFORE trigger
on PostgreSQL, AFTER triggers on SQLite, whenever a row is inserted or its timestamps change.

Revision ID: 0018
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("detected_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        for name, _start, _end in DURATIONS:
            batch_op.add_column(sa.Column(name, sa.Float(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()
    op.create_index("ix_incident_insights", "incident", INSIGHTS_INDEX)
    # Incidents already linked to alerts: their earliest alert's start (or the declaration).
    op.execute(
        "UPDATE incident SET detected_at = (SELECT min(g.first_alert_at) FROM alert_group g "
        "WHERE g.incident_id = incident.id) "
        "WHERE id IN (SELECT incident_id FROM alert_group WHERE incident_id IS NOT NULL)"
    )
    op.execute("UPDATE incident SET detected_at = declared_at WHERE detected_at > declared_at")
    op.create_table(
        "incident_tag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.Column("added_by", sa.String(length=32), nullable=False),
        sa.Column("added_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "tag", name="uq_incident_tag"),
    )
    op.create_index("ix_incident_tag_incident_id", "incident_tag", ["incident_id"])
    op.create_index("ix_incident_tag_tag", "incident_tag", ["tag"])


# (column, from, to): seconds from one timestamp to the other, NULL unless both are set.
DURATIONS = (
    ("detect_seconds", "detected_at", "declared_at"),
    ("acknowledge_seconds", "declared_at", "acknowledged_at"),
    ("identify_seconds", "declared_at", "identified_at"),
    ("mitigate_seconds", "declared_at", "monitoring_at"),
    ("resolve_seconds", "declared_at", "resolved_at"),
)
TIMESTAMPS = sorted({c for _, start, end in DURATIONS for c in (start, end)})
INSIGHTS_INDEX = ["declared_at", "private", "channel_id", "severity"] + [d[0] for d in DURATIONS]


def _postgresql_triggers() -> None:
    sets = "\n".join(
        f"  NEW.{name} := EXTRACT(EPOCH FROM (NEW.{end} - NEW.{start}));"
        for name, start, end in DURATIONS
    )
    op.execute(
        "CREATE OR REPLACE FUNCTION incident_durations() RETURNS trigger AS $$\nBEGIN\n"
        f"{sets}\n  RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql"
    )
    op.execute(
        "CREATE TRIGGER incident_durations BEFORE INSERT OR UPDATE ON incident "
        "FOR EACH ROW EXECUTE FUNCTION incident_durations()"
    )
    op.execute("UPDATE incident SET declared_at = declared_at")


def _sqlite_triggers() -> None:
    sets = ", ".join(
        f"{name} = (julianday(new.{end}) - julianday(new.{start})) * 86400.0"
        for name, start, end in DURATIONS
    )
    body = f"BEGIN UPDATE incident SET {sets} WHERE id = new.id; END"
    op.execute(f"CREATE TRIGGER incident_durations_insert AFTER INSERT ON incident {body}")
    op.execute(
        f"CREATE TRIGGER incident_durations_update AFTER UPDATE OF {', '.join(TIMESTAMPS)} "
        f"ON incident {body}"
    )
    op.execute(
        "UPDATE incident SET "
        + ", ".join(
            f"{name} = (julianday({end}) - julianday({start})) * 86400.0"
            for name, start, end in DURATIONS
        )
    )


def downgrade() -> None:
    op.drop_index("ix_incident_tag_tag", table_name="incident_tag")
    op.drop_index("ix_incident_tag_incident_id", table_name="incident_tag")
    op.drop_table("incident_tag")
    op.drop_index("ix_incident_insights", table_name="incident")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS incident_durations ON incident")
        op.execute("DROP FUNCTION IF EXISTS incident_durations()")
    else:
        op.execute("DROP TRIGGER IF EXISTS incident_durations_insert")
        op.execute("DROP TRIGGER IF EXISTS incident_durations_update")
    with op.batch_alter_table("incident", schema=None) as batch_op:
        for name, _start, _end in DURATIONS:
            batch_op.drop_column(name)
        batch_op.drop_column("detected_at")
