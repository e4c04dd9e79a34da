"""the incident library: post-mortem versions, digests, incident.declared_at index

Revision ID: 0016
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0016"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "postmortem_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("postmortem_id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.String(), nullable=False),
        sa.Column("rendered_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["postmortem_id"], ["postmortem.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("postmortem_id", "version", name="uq_postmortem_version"),
    )
    op.create_index(
        "ix_postmortem_version_incident_id", "postmortem_version", ["incident_id"], unique=False
    )
    op.create_index("ix_incident_declared_at", "incident", ["declared_at"], unique=False)
    op.create_table(
        "digest_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=False),
        sa.Column("claimed_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("sent_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    # The latest rendering of every existing post-mortem becomes its first kept version.
    op.execute(
        "INSERT INTO postmortem_version (postmortem_id, incident_id, version, document, "
        "rendered_at) SELECT id, incident_id, version, document, COALESCE(rendered_at, "
        "created_at) FROM postmortem WHERE version > 0"
    )

    if op.get_bind().dialect.name == "postgresql":
        _trigram_indexes()
    else:
        _sqlite_timeline_index()


# PostgreSQL only: trigram indexes let the console's text search (ILIKE '%word%') use an index
# instead of reading every timeline entry. pg_trgm is a trusted extension (PostgreSQL 13+):
# the database's owner may create it. Without it the search still works, by scanning.
TRIGRAM_INDEXES = {
    "ix_timeline_entry_text_trgm": ("timeline_entry", ["text"]),
    "ix_incident_update_message_trgm": ("incident_update", ["message"]),
    "ix_postmortem_document_trgm": ("postmortem", ["document"]),
    "ix_incident_text_trgm": ("incident", ["title", "summary", "impact", "resolution"]),
}


def _trigram_indexes() -> None:
    bind = op.get_bind()
    savepoint = bind.begin_nested()
    try:
        bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception:
        savepoint.rollback()
        import logging

        logging.getLogger("alembic").warning(
            "pg_trgm is not available: the console's text search will scan instead of using "
            "trigram indexes"
        )
        return
    savepoint.commit()
    for name, (table, columns) in TRIGRAM_INDEXES.items():
        ops = ", ".join(f"{column} gin_trgm_ops" for column in columns)
        bind.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({ops})")


# SQLite: an FTS5 trigram index of the timeline's text (kept by triggers), which answers the
# console's LIKE '%word%' without reading all the timeline (SQLite 3.34 or later).
SQLITE_FTS_TRIGGERS = {
    "timeline_entry_fts_insert": "AFTER INSERT ON timeline_entry BEGIN "
    "INSERT INTO timeline_entry_fts(rowid, text) VALUES (new.id, new.text); END",
    "timeline_entry_fts_delete": "AFTER DELETE ON timeline_entry BEGIN "
    "INSERT INTO timeline_entry_fts(timeline_entry_fts, rowid, text) "
    "VALUES ('delete', old.id, old.text); END",
    "timeline_entry_fts_update": "AFTER UPDATE OF text ON timeline_entry BEGIN "
    "INSERT INTO timeline_entry_fts(timeline_entry_fts, rowid, text) "
    "VALUES ('delete', old.id, old.text); "
    "INSERT INTO timeline_entry_fts(rowid, text) VALUES (new.id, new.text); END",
}


def _sqlite_timeline_index() -> None:
    op.execute(
        "CREATE VIRTUAL TABLE timeline_entry_fts USING fts5(text, content='timeline_entry', "
        "content_rowid='id', tokenize='trigram')"
    )
    op.execute("INSERT INTO timeline_entry_fts(timeline_entry_fts) VALUES ('rebuild')")
    for name, body in SQLITE_FTS_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in TRIGRAM_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
    else:
        for name in SQLITE_FTS_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS timeline_entry_fts")
    op.drop_table("digest_delivery")
    op.drop_index("ix_incident_declared_at", table_name="incident")
    op.drop_index("ix_postmortem_version_incident_id", table_name="postmortem_version")
    op.drop_table("postmortem_version")
