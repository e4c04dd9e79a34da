"""The library's text search follows the timeline as it changes (SQLite's FTS5 index is kept
by triggers; PostgreSQL's trigram indexes by the database)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot import incidents, library
from bot import timeline as tl
from storage import Database
from storage.models_timeline import TimelineEntry

T0 = datetime(2025, 5, 5, 9, 0, tzinfo=UTC)


def _found(db: Database, text: str) -> list[int]:
    with db.read() as session:
        page = library.search(session, library.Filters(text=text), member_channels=frozenset())
    return [v.incident.number for v in page.views]


def test_search_follows_timeline_edits_and_deletions(db: Database) -> None:
    with db.session() as session:
        incident, _ = incidents.declare(
            session, title="Quiet title", severity="sev3", declared_by="U1", declare_key="k", now=T0
        )
        entry = tl.add_note(
            session, incident=incident, author="U1", author_name="A", text="Saw a Platypus"
        )
        entry_id = entry.id
    assert _found(db, "platypus") == [1]
    assert _found(db, "pla") == [1] and _found(db, "pu") == [1]  # short terms too
    assert _found(db, "wombat") == []
    with db.session() as session:
        row = session.get(TimelineEntry, entry_id)
        assert row is not None
        row.text = "Saw a wombat_2 after all"
        session.add(row)
    assert _found(db, "platypus") == [] and _found(db, "WOMBAT") == [1]
    assert _found(db, "wombat_2") == [1] and _found(db, "t_2") == [1]  # wildcard characters
    with db.session() as session:
        row = session.get(TimelineEntry, entry_id)
        assert row is not None
        row.deleted_at = T0
        session.add(row)
    assert _found(db, "wombat") == []
    with db.session() as session:
        row = session.get(TimelineEntry, entry_id)
        session.delete(row)
    assert _found(db, "wombat") == []
