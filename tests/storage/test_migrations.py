"""The migrations produce exactly the models' schema, on both backends."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlmodel import SQLModel

import storage.models  # noqa: F401
from storage import Database
from storage.migrate import alembic_config


def _not_trigram(obj: object, name: str | None, type_: str, *_: object) -> bool:
    """The text search's indexes (migration 0016) live outside the models: PostgreSQL's
    trigram indexes, SQLite's FTS5 table of the timeline; so do SQLite's indexes the
    insights walk for medians (migration 0021)."""
    if type_ == "index" and (name or "").endswith("_trgm"):
        return False
    if type_ == "index" and (name or "").startswith("ix_incident_walk_"):
        return False
    return not (type_ == "table" and (name or "").startswith("timeline_entry_fts"))


# SQLAlchemy does not reflect SQLite's expression indexes (the walk indexes): it says so.
EXPRESSION_INDEXES = "ignore:Skipped unsupported reflection of expression-based index"


@pytest.mark.filterwarnings(EXPRESSION_INDEXES)
def test_migrations_match_models(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": _not_trigram}
        )
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_database_is_at_head(db: Database) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with db.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    assert current == head


def test_every_table_exists(db: Database) -> None:
    tables = set(inspect(db.engine).get_table_names())
    assert set(SQLModel.metadata.tables) <= tables


@pytest.mark.filterwarnings(EXPRESSION_INDEXES)
def test_migrate_twice_is_a_no_op(db: Database) -> None:
    db.migrate()
    db.migrate()
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": _not_trigram}
        )
        assert compare_metadata(context, SQLModel.metadata) == []


def test_downgrade_to_base_and_back(db_url: str) -> None:
    from alembic import command

    database = Database(db_url)
    try:
        command.downgrade(alembic_config(database.engine), "base")
        assert set(inspect(database.engine).get_table_names()) <= {"alembic_version"}
        database.migrate()
        assert set(SQLModel.metadata.tables) <= set(inspect(database.engine).get_table_names())
    finally:
        database.dispose()


def test_text_search_has_trigram_indexes(db: Database) -> None:
    names = {ix["name"] for ix in inspect(db.engine).get_indexes("timeline_entry")}
    if db.is_sqlite:
        assert "timeline_entry_fts" in inspect(db.engine).get_table_names()
    else:
        assert "ix_timeline_entry_text_trgm" in names
