"""The timeline's domain: once-only capture, notes, the bot's records, edits, export."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot import incidents
from bot import timeline as tl
from bot.core.errors import ConfigError, InvalidInput
from bot.core.events import (
    IncidentDeclared,
    IncidentResolved,
    RoleAssigned,
    SeverityChanged,
    StatusChanged,
    UpdatePosted,
)
from bot.core.vocabulary import Role, Severity, Status
from bot.settings import load_settings
from storage import Database
from storage.models import EventReceipt, Incident
from storage.models_timeline import TimelineEntry

T0 = datetime(2026, 3, 1, 14, 0, tzinfo=UTC)


def _incident(db: Database, key: str = "k1", title: str = "Database is down") -> Incident:
    with db.session() as session:
        incident, _ = incidents.declare(
            session, title=title, severity="sev2", declared_by="UALICE", declare_key=key, now=T0
        )
        return incident


def _message(
    ts: str = "1772373600.000100", channel: str = "CINC", **kw: object
) -> tl.CapturedMessage:
    values: dict[str, object] = {
        "channel_id": channel,
        "ts": ts,
        "author": "UBOB",
        "author_name": "Bob Baker",
        "text": "DB primary is at 100% CPU",
        "files": ["cpu.png"],
        "permalink": f"https://emulated.slack.com/archives/{channel}/p{ts.replace('.', '')}",
    }
    values.update(kw)
    return tl.CapturedMessage(**values)  # type: ignore[arg-type]


def _add(db: Database, incident_id: int, message: tl.CapturedMessage, **kw: object) -> tl.Added:
    with db.session() as session:
        return tl.add_message(
            session,
            incident_id=incident_id,
            message=message,
            added_via=kw.pop("via", tl.Via.REACTION),  # type: ignore[arg-type]
            added_by="UBOB",
            **kw,  # type: ignore[arg-type]
        )


def _entries(db: Database, incident_id: int) -> list[TimelineEntry]:
    with db.session() as session:
        return tl.entries(session, incident_id=incident_id)


def test_ts_is_the_messages_own_time() -> None:
    assert tl.ts_to_datetime("1772373600.000100") == datetime(2026, 3, 1, 14, 0, 0, 100, tzinfo=UTC)
    assert tl.ts_to_datetime("1772373600") == datetime(2026, 3, 1, 14, 0, tzinfo=UTC)


def test_a_message_is_added_once_with_its_facts(db: Database) -> None:
    incident = _incident(db)
    assert incident.id is not None
    assert _add(db, incident.id, _message()) is tl.Added.ADDED
    assert _add(db, incident.id, _message(text="other")) is tl.Added.ALREADY_THERE
    [entry] = _entries(db, incident.id)
    assert entry.kind == "message"
    assert entry.occurred_at == datetime(2026, 3, 1, 14, 0, 0, 100, tzinfo=UTC)
    assert (entry.author, entry.author_name) == ("UBOB", "Bob Baker")
    assert entry.text == "DB primary is at 100% CPU"
    assert entry.files == "cpu.png"
    assert entry.permalink and entry.permalink.endswith("p1772373600000100")


def test_the_database_refuses_a_second_copy_of_a_message(db: Database) -> None:
    incident = _incident(db)
    assert incident.id is not None
    _add(db, incident.id, _message())
    with pytest.raises(IntegrityError), db.session() as session:
        session.add(
            TimelineEntry(
                incident_id=incident.id,
                kind="message",
                occurred_at=T0,
                channel_id="CINC",
                message_ts="1772373600.000100",
                added_via="reaction",
            )
        )
        session.flush()


def test_an_event_id_is_handled_once(db: Database) -> None:
    incident = _incident(db)
    assert incident.id is not None
    first = _add(db, incident.id, _message(), event_id="Ev1", event_type="reaction_added")
    again = _add(db, incident.id, _message("1.2"), event_id="Ev1", event_type="reaction_added")
    assert (first, again) == (tl.Added.ADDED, tl.Added.DUPLICATE_EVENT)
    assert len(_entries(db, incident.id)) == 1  # the second message was not added either
    with db.session() as session:
        assert tl.event_seen(session, event_id="Ev1")
        assert not tl.event_seen(session, event_id="Ev2")
        assert session.get(EventReceipt, "Ev1") is not None


def test_the_same_message_may_be_on_two_incidents(db: Database) -> None:
    one, two = _incident(db, "k1"), _incident(db, "k2", "Queue backlog")
    assert one.id is not None and two.id is not None
    assert _add(db, one.id, _message()) is tl.Added.ADDED
    assert _add(db, two.id, _message(), via=tl.Via.SHORTCUT) is tl.Added.ADDED


def test_racing_deliveries_leave_one_entry(db: Database) -> None:
    incident = _incident(db)
    assert incident.id is not None
    incident_id = incident.id
    outcomes: list[tl.Added] = []
    barrier = threading.Barrier(8)

    def deliver(n: int) -> None:
        barrier.wait()
        outcomes.append(_add(db, incident_id, _message(), event_id=f"Ev{n % 3}"))

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count(tl.Added.ADDED) == 1
    assert len(_entries(db, incident_id)) == 1


def test_notes_are_validated_and_timed_now(db: Database) -> None:
    incident = _incident(db)
    with db.session() as session:
        with pytest.raises(InvalidInput, match="note"):
            tl.add_note(session, incident=incident, author="UA", author_name="A", text="  ")
        with pytest.raises(InvalidInput, match="3000"):
            tl.add_note(session, incident=incident, author="UA", author_name="A", text="x" * 3001)
        entry = tl.add_note(
            session,
            incident=incident,
            author="UA",
            author_name="Alice",
            text=" Rolled back ",
            now=T0 + timedelta(minutes=5),
        )
    assert (entry.kind, entry.text, entry.added_via) == ("note", "Rolled back", "command")
    assert entry.occurred_at == T0 + timedelta(minutes=5)


def _at(incident_id: int, minutes: int) -> dict[str, Any]:
    return {"incident_id": incident_id, "actor": "UALICE", "at": T0 + timedelta(minutes=minutes)}


def test_the_bots_own_entries_describe_each_change(db: Database) -> None:
    incident = _incident(db)
    assert incident.id is not None
    names = {"UALICE": "Alice", "UBOB": "Bob", "UCAROL": "Carol"}
    events = [
        IncidentDeclared(**_at(incident.id, 0)),
        StatusChanged(**_at(incident.id, 1), old=Status.INVESTIGATING, new=Status.IDENTIFIED),
        SeverityChanged(**_at(incident.id, 2), old=Severity.SEV2, new=Severity.SEV1),
        RoleAssigned(**_at(incident.id, 3), role=Role.SCRIBE, user="UBOB", previous=None),
        RoleAssigned(
            **_at(incident.id, 4), role=Role.INCIDENT_MANAGER, user="UCAROL", previous="UALICE"
        ),
        UpdatePosted(
            **_at(incident.id, 5),
            update_id=7,
            message="Fix by <@UBOB>",
            old_status=Status.IDENTIFIED,
            new_status=Status.MONITORING,
        ),
        IncidentResolved(**_at(incident.id, 6), old=Status.MONITORING, resolution="Rolled back"),
    ]
    with db.session() as session:
        for event in events:
            text = tl.describe_event(event, incident=incident, name_of=names.get)
            assert tl.record_event(session, event=event, text=text, author_name="Alice")
        # Publishing the same event again records nothing more.
        assert not tl.record_event(session, event=events[1], text="again", author_name="Alice")
    texts = [e.text for e in _entries(db, incident.id)]
    assert texts == [
        "declared incident #1 Database is down (SEV2)",
        "changed the status from Investigating to Identified",
        "changed the severity from SEV2 to SEV1",
        "made Bob the scribe",
        "handed the incident manager role from Alice to Carol",
        "posted an update (status now Monitoring): Fix by @Bob",
        "resolved the incident: Rolled back",
    ]


def test_edits_update_text_and_late_old_edits_change_nothing(db: Database) -> None:
    incident = _incident(db)
    assert incident.id is not None
    _add(db, incident.id, _message())
    with db.session() as session:
        args: dict[str, Any] = {"channel_id": "CINC", "message_ts": "1772373600.000100"}
        edit = tl.update_message(
            session, text="v2", edited_ts="1772373700.000001", files=[], **args
        )
        late = tl.update_message(
            session, text="v1-late", edited_ts="1772373650.0", files=[], **args
        )
        assert (edit, late) == (1, 0)
        assert (
            tl.update_message(
                session,
                text="x",
                edited_ts="1.0",
                channel_id="COTHER",
                message_ts="1772373600.000100",
                files=[],
            )
            == 0
        )
    [entry] = _entries(db, incident.id)
    assert (entry.text, entry.edited_ts, entry.files) == ("v2", "1772373700.000001", "")


def test_deleting_marks_and_unreacting_removes_only_reaction_entries(db: Database) -> None:
    one, two = _incident(db, "k1"), _incident(db, "k2", "Other")
    assert one.id is not None and two.id is not None
    _add(db, one.id, _message())
    _add(db, two.id, _message(), via=tl.Via.SHORTCUT)
    with db.session() as session:
        assert tl.remove_reacted(session, channel_id="CINC", message_ts="1772373600.000100") == 1
    assert _entries(db, one.id) == [] and len(_entries(db, two.id)) == 1
    with db.session() as session:
        assert tl.mark_deleted(session, channel_id="CINC", message_ts="1772373600.000100") == 1
        assert tl.mark_deleted(session, channel_id="CINC", message_ts="1772373600.000100") == 0
    assert _entries(db, two.id)[0].deleted_at is not None


def test_entries_come_in_time_order_and_page(db: Database) -> None:
    incident = _incident(db)
    assert incident.id is not None
    for ts in ("1772373900.0", "1772373600.0", "1772373700.0"):
        _add(db, incident.id, _message(ts, text=ts))
    assert [e.text for e in _entries(db, incident.id)] == [
        "1772373600.0",
        "1772373700.0",
        "1772373900.0",
    ]
    with db.session() as session:
        assert tl.count(session, incident_id=incident.id) == 3
        page = tl.entries(session, incident_id=incident.id, offset=1, limit=1)
    assert [e.text for e in page] == ["1772373700.0"]


def test_markdown_export(db: Database) -> None:
    incident = _incident(db)
    assert incident.id is not None
    _add(db, incident.id, _message(text="line one\nline two"))
    with db.session() as session:
        tl.add_note(
            session,
            incident=incident,
            author="UA",
            author_name="Alice",
            text="Paged DBA",
            now=T0 + timedelta(minutes=1),
        )
        event = StatusChanged(
            **_at(incident.id, 2), old=Status.INVESTIGATING, new=Status.IDENTIFIED
        )
        tl.record_event(session, event=event, text="changed the status", author_name="Alice")
        tl.mark_deleted(session, channel_id="CINC", message_ts="1772373600.000100")
        text = tl.markdown(session, incident_id=incident.id)
    lines = text.splitlines()
    assert lines[0] == "## Timeline of incident #1: Database is down"
    assert "3 entries. All times are UTC." in lines
    body = "\n".join(lines[4:])
    assert body == (
        "- **2026-03-01 14:00:00** · Bob Baker: line one\n  line two ([message]("
        "https://emulated.slack.com/archives/CINC/p1772373600000100)) *(message deleted)*\n"
        "  Files: cpu.png\n"
        "- **2026-03-01 14:01:00** · Note by Alice: Paged DBA\n"
        "- **2026-03-01 14:02:00** · Alice changed the status"
    )


def test_markdown_of_an_empty_timeline(db: Database) -> None:
    incident = _incident(db)
    assert incident.id is not None
    with db.session() as session:
        assert "Nothing on the timeline yet" in tl.markdown(session, incident_id=incident.id)
        with pytest.raises(InvalidInput):
            tl.markdown(session, incident_id=999)


def test_entries_go_with_their_incident(db: Database) -> None:
    incident = _incident(db)
    assert incident.id is not None
    _add(db, incident.id, _message())
    with db.session() as session:
        session.delete(session.get(Incident, incident.id))
    with db.session() as session:
        assert session.exec(select(TimelineEntry)).all() == []


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ("pushpin", "pushpin"),
        (" :pushpin: , round_pushpin ,pushpin", "pushpin,round_pushpin"),
        ("+1,Eyes", "+1,eyes"),
    ],
)
def test_timeline_emoji_setting(raw: str, names: str) -> None:
    settings = load_settings(env_file=None, timeline_emoji=raw)
    assert settings.timeline_emoji == names
    assert settings.timeline_emojis == frozenset(names.split(","))


@pytest.mark.parametrize("raw", ["", " , ", "push pin", "pin!"])
def test_bad_timeline_emoji_setting_names_the_key(raw: str) -> None:
    with pytest.raises(ConfigError, match="TIMELINE_EMOJI"):
        load_settings(env_file=None, timeline_emoji=raw)
