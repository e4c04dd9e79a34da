"""Action items: parsing the command, creating once, listing, completing (both databases)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from bot import action_items, incidents
from bot.action_items import Via
from bot.core.errors import InvalidInput, NotFound
from bot.core.events import ActionItemCompleted, ActionItemCreated
from bot.followups.policy import FollowUpPolicy
from storage import Database
from storage.models_postmortems import ActionItem, FollowUpReminder

T0 = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)  # a Wednesday
TODAY = T0.date()
POLICY = FollowUpPolicy()
ALICE, BOB = "U0ALICE01", "U0BOB0001"


def new_incident(db: Database, title: str = "Checkout is down") -> int:
    with db.session() as session:
        incident, _ = incidents.declare(
            session,
            title=title,
            severity="sev2",
            declared_by=ALICE,
            declare_key=uuid.uuid4().hex,
            manager=BOB,
            now=T0,
        )
        assert incident.id is not None
        return incident.id


def create(
    db: Database, incident_id: int, **overrides: object
) -> tuple[ActionItem, ActionItemCreated | None]:
    values: dict[str, object] = {
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
        return action_items.create(session, **values)  # type: ignore[arg-type]


# -- parsing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "text", "owner", "due"),
    [
        ("Add an alert", "Add an alert", None, None),
        ("Add an alert <@U0BOB0001|bob>", "Add an alert", BOB, None),
        ("Add an alert due 2026-03-10", "Add an alert", None, date(2026, 3, 10)),
        ("Add an alert <@U0BOB0001> due 2026-03-10", "Add an alert", BOB, date(2026, 3, 10)),
        ("Add an alert due 2026-03-10 <@U0BOB0001|bob>", "Add an alert", BOB, date(2026, 3, 10)),
        ("Ask <@U0ALICE01> why the cache fell over due to load", None, None, None),
        ("Fix it due 2026-03-04", "Fix it", None, TODAY),  # today is fine
    ],
)
def test_parse_command(args: str, text: str | None, owner: str | None, due: date | None) -> None:
    parsed = action_items.parse_command(args, today=TODAY)
    assert parsed.text == (text or args)
    assert (parsed.owner, parsed.due_on) == (owner, due)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("Fix it due 2026-02-30", "`2026-02-30` is not a date"),
        ("Fix it due next-week", "`next-week` is not a date"),
        ("Fix it due 4/3/2026", "`4/3/2026` is not a date"),
        ("Fix it due 2026-03-03", "has passed"),
        ("Fix it @bob", "is not a Slack user"),
        ("", "Say what needs doing"),
        ("<@U0BOB0001|bob> due 2026-03-10", "Say what needs doing"),
    ],
)
def test_parse_command_rejects_bad_input(args: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        action_items.parse_command(args, today=TODAY)


# -- creating ---------------------------------------------------------------------------------


def test_create_plans_the_owners_reminder(db: Database) -> None:
    incident_id = new_incident(db)
    item, created = create(db, incident_id, due_on=TODAY + timedelta(days=2))
    assert created and item.id is not None and item.state == "open"
    assert created == ActionItemCreated(
        incident_id=incident_id,
        actor=ALICE,
        at=T0,
        item_id=item.id,
        owner=BOB,
        due_on=TODAY + timedelta(days=2),
    )
    with db.session() as session:
        row = session.exec(select(FollowUpReminder)).one()
    assert (row.kind, row.subject_id, row.incident_id) == ("action_item", item.id, incident_id)
    assert row.due_at == datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
    undated, _ = create(db, incident_id, text="Someday")
    with db.session() as session:
        rows = session.exec(
            select(FollowUpReminder).where(FollowUpReminder.subject_id == undated.id)
        )
        assert rows.one().due_at is None


def test_the_same_source_creates_one_item(db: Database) -> None:
    incident_id = new_incident(db)
    first, created = create(db, incident_id, source_key="reaction:C1:1.2", via=Via.REACTION)
    again, created_again = create(db, incident_id, source_key="reaction:C1:1.2", text="Other")
    assert created and not created_again and again.id == first.id and again.text == "Add an alert"
    with db.session() as session:
        assert len(session.exec(select(ActionItem)).all()) == 1


def test_bad_items_are_not_created(db: Database) -> None:
    incident_id = new_incident(db)
    with pytest.raises(NotFound, match="no action item was created"):
        create(db, incident_id + 99)
    with pytest.raises(InvalidInput, match="Say what needs doing"):
        create(db, incident_id, text="   ")
    with pytest.raises(InvalidInput, match="1000 characters"):
        create(db, incident_id, text="x" * 1001)
    with pytest.raises(InvalidInput, match="has passed") as caught:
        create(db, incident_id, due_on=TODAY - timedelta(days=1))
    assert caught.value.fields == {"due": "Pick today or a later day."}
    with db.session() as session:
        assert session.exec(select(ActionItem)).all() == []
        assert session.exec(select(FollowUpReminder)).all() == []


# -- listing and completing ---------------------------------------------------------------


def test_open_for_lists_someones_open_items_across_incidents(db: Database) -> None:
    first, second = new_incident(db), new_incident(db, "Cache is down")
    later, _ = create(db, first, text="Later", due_on=TODAY + timedelta(days=5))
    undated, _ = create(db, second, text="Undated")
    sooner, _ = create(db, second, text="Sooner", due_on=TODAY + timedelta(days=1))
    create(db, first, text="Alice's", owner=ALICE)
    with db.session() as session:
        mine = action_items.open_for(session, owner=BOB)
    assert [(i.text, inc.id) for i, inc in mine] == [
        ("Sooner", second),
        ("Later", first),
        ("Undated", second),
    ]
    assert sooner.id and later.id and undated.id


def test_complete_is_idempotent_and_stops_reminders(db: Database) -> None:
    incident_id = new_incident(db)
    item, _ = create(db, incident_id, due_on=TODAY)
    assert item.id is not None
    with db.session() as session:
        done, changed = action_items.complete(session, item_id=item.id, actor=ALICE, policy=POLICY)
    assert changed and done.state == "done" and done.completed_by == ALICE
    assert changed == ActionItemCompleted(
        incident_id=incident_id, actor=ALICE, at=changed.at, item_id=item.id
    )
    with db.session() as session:
        _, changed_again = action_items.complete(session, item_id=item.id, actor=BOB, policy=POLICY)
        row = session.exec(select(FollowUpReminder)).one()
        listed = action_items.of_incident(session, incident_id=incident_id)
    assert not changed_again and row.due_at is None
    assert [(i.id, i.state, i.completed_by) for i in listed] == [(item.id, "done", ALICE)]
    with db.session() as session, pytest.raises(NotFound):
        action_items.complete(session, item_id=item.id + 1, actor=ALICE, policy=POLICY)
