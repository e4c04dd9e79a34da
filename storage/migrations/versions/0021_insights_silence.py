"""insights: each incident's longest silence kept by triggers; indexes for the figures

`incident_silence` (one row per incident) describes the gaps between an incident's
declaration, its updates (incident_update) and its resolution: the longest gap, and how long
after the declaration the last of them came (both in seconds). Kept by AFTER triggers on both
databases whenever an incident is declared, an update is posted, moved or deleted, and the
declaration or resolution changes (readiness's update cadence reads it instead of a window
over every update of the period). A table of its own: posting an update does not rewrite the
wide incident row and its indexes.

`ix_incident_insights` is rebuilt with `is_drill` (every figure filters on it; without it the
index did not cover the figures' queries); `ix_postmortem_due` covers readiness's post-mortem
habit. On SQLite only, the
"walk" indexes give each measure's values, and the time to resolve per severity, per week and
per month, in sorted order, so a median is read by walking the index (ORDER BY ... LIMIT 2
OFFSET k) instead of sorting the period (PostgreSQL uses `percentile_cont`).

Revision ID: 0021
Revises: 0020
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DURATIONS = [
    "detect_seconds",
    "acknowledge_seconds",
    "identify_seconds",
    "mitigate_seconds",
    "resolve_seconds",
]
OLD_INDEX = ["declared_at", "private", "channel_id", "severity", *DURATIONS]
INSIGHTS_INDEX = ["declared_at", "is_drill", "private", "channel_id", "severity"]
INSIGHTS_INDEX += DURATIONS
# What every figure filters on, after the walked key: read from the index alone.
FILTERED = "declared_at, is_drill, private, channel_id"
# SQLite only: (name, leading columns). The week and month expressions are exactly those of
# bot.insights.figures.week_start and month_start (SQLite uses an expression index only for
# the same expression).
WALKS = [(f"ix_incident_walk_{name.removesuffix('_seconds')}", name) for name in DURATIONS]
WALKS += [
    ("ix_incident_walk_severity", "severity, resolve_seconds"),
    ("ix_incident_walk_week", "date(declared_at, 'weekday 0', '-6 days'), resolve_seconds"),
    ("ix_incident_walk_month", "substr(declared_at, 1, 7) || '-01', resolve_seconds"),
]


def silences(dialect: str, incidents: str) -> str:
    """SQL: per incident matching `incidents` (a condition on `i`), its longest silence and
    its last word, in seconds from the declaration."""

    def after_declaration(at: str) -> str:
        if dialect == "postgresql":
            return f"EXTRACT(EPOCH FROM ({at} - i.declared_at))"
        return f"(julianday({at}) - julianday(i.declared_at)) * 86400.0"

    moments = (
        f"SELECT i.id AS id, 0.0 AS t FROM incident i WHERE {incidents} "
        f"UNION ALL SELECT i.id, {after_declaration('u.posted_at')} "
        f"FROM incident i JOIN incident_update u ON u.incident_id = i.id WHERE {incidents} "
        f"UNION ALL SELECT i.id, {after_declaration('i.resolved_at')} FROM incident i "
        f"WHERE {incidents} AND i.resolved_at IS NOT NULL"
    )
    gaps = (
        "SELECT id, t, lag(t) OVER (PARTITION BY id ORDER BY t) AS previous "
        f"FROM ({moments}) AS moments"
    )
    return (
        "SELECT id, max(t - previous) AS silence, max(t) AS last_word "
        f"FROM ({gaps}) AS gaps GROUP BY id"
    )


def keep(dialect: str, incidents: str) -> str:
    """SQL: store the silences of the incidents matching `incidents`."""
    # "WHERE TRUE": SQLite's parser needs it between a SELECT and ON CONFLICT.
    return (
        "INSERT INTO incident_silence (incident_id, longest_silence_seconds, last_word_seconds) "
        f"SELECT id, silence, last_word FROM ({silences(dialect, incidents)}) AS s WHERE TRUE "
        "ON CONFLICT (incident_id) DO UPDATE SET "
        "longest_silence_seconds = excluded.longest_silence_seconds, "
        "last_word_seconds = excluded.last_word_seconds"
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "incident_silence",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("longest_silence_seconds", sa.Float(), nullable=True),
        sa.Column("last_word_seconds", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("incident_id"),
    )
    op.execute(keep(dialect, "TRUE"))
    if dialect == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()
    op.drop_index("ix_incident_insights", table_name="incident")
    op.create_index("ix_incident_insights", "incident", INSIGHTS_INDEX)
    op.create_index("ix_postmortem_due", "postmortem", ["incident_id", "due_on", "completed_at"])
    if dialect == "sqlite":
        for name, leading in WALKS:
            op.execute(f"CREATE INDEX {name} ON incident ({leading}, {FILTERED})")


def _postgresql_triggers() -> None:
    op.execute(
        "CREATE OR REPLACE FUNCTION incident_silence() RETURNS trigger AS $$\nBEGIN\n"
        f"  {keep('postgresql', 'i.id = NEW.id')};\n  RETURN NULL;\nEND;\n$$ LANGUAGE plpgsql"
    )
    op.execute(
        "CREATE TRIGGER incident_silence AFTER INSERT OR UPDATE OF declared_at, resolved_at "
        "ON incident FOR EACH ROW EXECUTE FUNCTION incident_silence()"
    )
    op.execute(
        "CREATE OR REPLACE FUNCTION incident_update_silence() RETURNS trigger AS $$\nBEGIN\n"
        "  IF TG_OP <> 'DELETE' THEN\n"
        f"    {keep('postgresql', 'i.id = NEW.incident_id')};\n"
        "  END IF;\n"
        "  IF TG_OP <> 'INSERT' THEN\n"
        f"    {keep('postgresql', 'i.id = OLD.incident_id')};\n"
        "  END IF;\n"
        "  RETURN NULL;\nEND;\n$$ LANGUAGE plpgsql"
    )
    op.execute(
        "CREATE TRIGGER incident_update_silence AFTER INSERT OR DELETE "
        "OR UPDATE OF incident_id, posted_at ON incident_update "
        "FOR EACH ROW EXECUTE FUNCTION incident_update_silence()"
    )


SQLITE_TRIGGERS = {
    "incident_silence_insert": ("AFTER INSERT ON incident", ["new.id"]),
    "incident_silence_update": (
        "AFTER UPDATE OF declared_at, resolved_at ON incident",
        ["new.id"],
    ),
    "incident_update_silence_insert": ("AFTER INSERT ON incident_update", ["new.incident_id"]),
    "incident_update_silence_delete": ("AFTER DELETE ON incident_update", ["old.incident_id"]),
    "incident_update_silence_update": (
        "AFTER UPDATE OF incident_id, posted_at ON incident_update",
        ["new.incident_id", "old.incident_id"],
    ),
}


def _sqlite_triggers() -> None:
    for name, (when, ids) in SQLITE_TRIGGERS.items():
        body = " ".join(f"{keep('sqlite', f'i.id = {one}')};" for one in ids)
        op.execute(f"CREATE TRIGGER {name} {when} BEGIN {body} END")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS incident_update_silence ON incident_update")
        op.execute("DROP FUNCTION IF EXISTS incident_update_silence()")
        op.execute("DROP TRIGGER IF EXISTS incident_silence ON incident")
        op.execute("DROP FUNCTION IF EXISTS incident_silence()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        for name, _leading in WALKS:
            op.execute(f"DROP INDEX IF EXISTS {name}")
    op.drop_index("ix_postmortem_due", table_name="postmortem")
    op.drop_index("ix_incident_insights", table_name="incident")
    op.create_index("ix_incident_insights", "incident", OLD_INDEX)
    op.drop_table("incident_silence")
