"""Input rules on the server for every field (bot.core.inputs), on SQLite and PostgreSQL.

The same rules hold whatever sent the text (a form, a command, a forged request): limits are
enforced in the domain, control characters stripped (NUL cannot be stored on PostgreSQL),
direction-changing and invisible-only titles refused, dates within ten years. A refusal
names the field and changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot import action_items, incidents, postmortems
from bot import timeline as tl
from bot.action_items import Via
from bot.core import inputs
from bot.core.errors import InvalidInput
from bot.core.vocabulary import Role
from bot.followups.policy import FollowUpPolicy
from storage import Database
from storage.models import Incident, IncidentUpdate
from storage.models_postmortems import ActionItem, PostMortem
from storage.models_timeline import TimelineEntry

T0 = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
TODAY = T0.date()
POLICY = FollowUpPolicy()
ALICE, BOB = "U0ALICE01", "U0BOB0001"
NUL = "\x00"
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE
ZWSP = "\u200b"  # ZERO WIDTH SPACE
HUGE = "x" * 40_000


def declare(db: Database, **fields: Any) -> Incident:
    values: dict[str, Any] = {
        "title": "Checkout is down",
        "severity": "sev2",
        "declared_by": ALICE,
        "declare_key": uuid.uuid4().hex,
        "manager": BOB,
        "now": T0,
    }
    values.update(fields)
    with db.session() as session:
        incident, _ = incidents.declare(session, **values)
        return incident


def count(db: Database, model: type[Any]) -> int:
    with db.session() as session:
        return len(session.exec(select(model)).all())


def refused(call: Any, field: str, *words: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        call()
    assert field in caught.value.fields, caught.value.fields
    for word in words:
        assert word in str(caught.value), str(caught.value)
    return caught.value


# -- the rules themselves -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        (f"a{NUL}b", "ab"),
        ("line one\r\nline two\rthree", "line one\nline two\nthree"),
        ("tab\there\x07\x1b[31m", "tab\there[31m"),
        ("\ud800lone surrogate", "lone surrogate"),
        ("C1 \x85\x9b control", "C1  control"),
        (f"bidi {RLO}txt.exe", "bidi txt.exe"),
    ],
)
def test_free_text_loses_control_and_direction_characters(typed: str, kept: str) -> None:
    assert inputs.clean_text(typed, field="f", name="summary", max_chars=100) == kept


@pytest.mark.parametrize(
    ("title", "words"),
    [
        (f"Invoice {RLO}fdp.exe", ("U+202E", "direction")),
        ("\u2066isolated\u2069", ("U+2066",)),
        (ZWSP * 3, ("no visible characters",)),
        ("\u3164\u2800 \u200d", ("no visible characters",)),
        ("   ", ("Give the incident a title",)),
        (NUL * 5, ("Give the incident a title",)),
        ("x" * 151, ("150 characters", "151")),
    ],
)
def test_bad_titles_are_refused_with_a_specific_error(title: str, words: tuple[str, ...]) -> None:
    refused(lambda: incidents.validate_declaration(title=title, severity="sev2"), "title", *words)


def test_a_title_is_one_clean_line() -> None:
    form = incidents.validate_declaration(title=f" Disk\n full{NUL}\t on db-1 ", severity="sev2")
    assert form.title == "Disk full on db-1"
    assert incidents.validate_declaration(title="مرحبا 👩‍💻", severity="sev2").title


def test_dates_stay_within_ten_years() -> None:
    assert inputs.latest_date(date(2024, 2, 29)) == date(2034, 2, 28)
    inputs.check_date_window(date(2036, 3, 4), today=TODAY, field="due", name="due date")
    refused(
        lambda: inputs.check_date_window(
            date(9999, 12, 31), today=TODAY, field="due", name="due date"
        ),
        "due",
        "9999-12-31",
        "10 years",
    )
    refused(lambda: inputs.parse_date("31/12/2026", field="due", name="due date"), "due")
    assert inputs.parse_date("", field="due", name="due date") is None


# -- incidents on both databases --------------------------------------------------------------


def test_nul_and_direction_characters_never_reach_the_database(db: Database) -> None:
    incident = declare(
        db,
        title=f"Payments{NUL} failing",
        summary=f"NUL{NUL} here, {RLO}override and \ud800 a lone surrogate",
        impact=f"EU{NUL}\r\ncustomers",
    )
    with db.session() as session:
        stored = session.get(Incident, incident.id)
        assert stored is not None
        assert stored.title == "Payments failing"
        assert stored.summary == "NUL here, override and  a lone surrogate"
        assert stored.impact == "EU\ncustomers"
        event = incidents.post_update(
            session, incident=stored, author=BOB, message=f"Rolled{NUL} back", now=T0
        )
        assert event.message == "Rolled back"
        incidents.resolve(session, incident=stored, actor=BOB, resolution=f"Fixed{NUL}", now=T0)
    with db.session() as session:
        assert session.exec(select(IncidentUpdate)).one().message == "Rolled back"
        resolved = session.get(Incident, incident.id)
        assert resolved is not None and resolved.resolution == "Fixed"


def test_a_forged_huge_or_disguised_declaration_changes_nothing(db: Database) -> None:
    for field, fields in (
        ("summary", {"summary": HUGE}),
        ("impact", {"impact": HUGE}),
        ("title", {"title": "x" * 40_000}),
        ("title", {"title": f"{RLO}gnp.exe"}),
        ("title", {"title": ZWSP}),
        ("manager", {"manager": "U1> <!everyone"}),
    ):
        error = refused(lambda fields=fields: declare(db, **fields), field)
        if field == "summary":
            assert "3000 characters (it has 40000)" in str(error)
    assert count(db, Incident) == 0


def test_updates_resolutions_and_roles_are_checked_before_anything_changes(db: Database) -> None:
    incident = declare(db)
    with db.session() as session:
        inc = session.get(Incident, incident.id)
        assert inc is not None
        refused(
            lambda: incidents.post_update(session, incident=inc, author=BOB, message=HUGE),
            "message",
            "3000",
        )
        refused(
            lambda: incidents.post_update(session, incident=inc, author=BOB, message=ZWSP * 2),
            "message",
            "Write what is new",
        )
        refused(
            lambda: incidents.resolve(session, incident=inc, actor=BOB, resolution=HUGE),
            "resolution",
        )
        refused(
            lambda: incidents.assign_role(
                session, incident=inc, role=Role.SCRIBE, user_id="x" * 64, actor=BOB
            ),
            "user",
        )
    with db.session() as session:
        inc = session.get(Incident, incident.id)
        assert inc is not None and inc.status == "investigating" and inc.resolution == ""
        assert session.exec(select(IncidentUpdate)).all() == []


# -- timeline, action items, post-mortems ------------------------------------------------------


def test_timeline_text_is_stored_clean(db: Database) -> None:
    incident = declare(db)
    with db.session() as session:
        inc = session.get(Incident, incident.id)
        assert inc is not None
        tl.add_note(session, incident=inc, author=BOB, author_name=f"Bob{NUL}", text=f"a{NUL}b")
        refused(
            lambda: tl.add_note(session, incident=inc, author=BOB, author_name="Bob", text=HUGE),
            "text",
            "3000",
        )
        message = tl.CapturedMessage(
            channel_id="C0INC",
            ts="1772636400.000100",
            author=ALICE,
            author_name=f"Al{NUL}ice",
            text=f"seen{NUL} at {RLO}edge",
            files=[f"dump{NUL}.txt"],
        )
        tl.add_message(
            session,
            incident_id=inc.id or 0,
            message=message,
            added_via=tl.Via.SHORTCUT,
            added_by=ALICE,
        )
    with db.session() as session:
        rows = {row.kind: row for row in session.exec(select(TimelineEntry)).all()}
    assert (rows["note"].text, rows["note"].author_name) == ("ab", "Bob")
    assert (rows["message"].text, rows["message"].files) == (f"seen at {RLO}edge", "dump.txt")
    assert rows["message"].author_name == "Alice"


def test_action_items_refuse_huge_text_and_far_dates(db: Database) -> None:
    incident_id = declare(db).id or 0

    def create(**overrides: Any) -> Any:
        values: dict[str, Any] = {
            "incident_id": incident_id,
            "text": "Add an alert",
            "owner": BOB,
            "created_by": ALICE,
            "via": Via.COMMAND,
            "policy": POLICY,
            "now": T0,
        }
        values.update(overrides)
        with db.session() as session:
            return action_items.create(session, **values)

    refused(lambda: create(text="x" * 40_000), "text", "1000")
    refused(lambda: create(text=ZWSP), "text", "Say what needs doing")
    refused(lambda: create(due_on=date(9999, 12, 31)), "due", "10 years")
    refused(lambda: action_items.parse_command("Fix it due 9999-12-31", today=TODAY), "due", "9999")
    assert count(db, ActionItem) == 0
    item, _ = create(text=f"Alert{NUL} on queue", due_on=inputs.latest_date(TODAY))
    assert item.text == "Alert on queue"


def test_postmortem_edits_follow_the_same_rules(db: Database) -> None:
    incident_id = declare(db).id or 0

    def edit(**changes: Any) -> PostMortem:
        values: dict[str, Any] = {
            "summary": "",
            "impact": "",
            "root_cause": "",
            "resolution": "",
            "owner": None,
            "due_on": None,
        }
        values.update(changes)
        with db.session() as session:
            return postmortems.edit(
                session,
                incident_id=incident_id,
                changes=postmortems.Edit(**values),
                actor=BOB,
                policy=POLICY,
                now=T0,
            )[0]

    error = refused(lambda: edit(summary=HUGE, root_cause=HUGE), "summary", "3000")
    assert "root_cause" in error.fields
    refused(lambda: edit(due_on=TODAY + timedelta(days=365 * 11)), "due", "10 years")
    refused(lambda: edit(owner="not a user"), "owner")
    assert count(db, PostMortem) == 0
    pm = edit(summary=f"It{NUL} broke {RLO}here", impact=ZWSP)
    assert (pm.summary, pm.impact) == ("It broke here", None)
