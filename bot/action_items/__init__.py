"""Action items: the work an incident leaves behind, with an owner, a due date and a state.

Functions take the session first and everything else by keyword; they never call Slack.
Changes return the item and the event to publish (None when nothing changed). Every change
re-plans the owner's reminder in the same transaction (bot.followups).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlmodel import Session, col, select

from bot import followups
from bot.core import inputs
from bot.core.commands import parse_user
from bot.core.errors import InvalidInput, NotFound
from bot.core.events import ActionItemCompleted, ActionItemCreated
from bot.followups.policy import FollowUpPolicy, Kind
from bot.reminders import insert_ignoring
from storage.models import Incident
from storage.models_postmortems import ActionItem
from storage.types import utcnow

TEXT_MAX = 1000
USAGE = "/incident action <text> [@owner] [due YYYY-MM-DD]"
EXAMPLE = "/incident action Add an alert on queue depth @alice due 2025-03-21"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class State(StrEnum):
    """Open until someone marks it done."""

    OPEN = "open"
    DONE = "done"


class Via(StrEnum):
    """How an action item was created."""

    COMMAND = "command"
    SHORTCUT = "shortcut"
    REACTION = "reaction"


@dataclass(frozen=True)
class Request:
    """What `/incident action ...` asks for."""

    text: str
    owner: str | None
    due_on: date | None


def parse_due(text: str, *, today: date) -> date:
    """A due date written YYYY-MM-DD, today or later; InvalidInput saying what is wrong."""
    value = text.strip()
    try:
        if not _DATE.match(value):
            raise ValueError(value)
        parsed = date.fromisoformat(value)
    except ValueError:
        message = (
            f"`{value or '(nothing)'}` is not a date. Write the due date as YYYY-MM-DD, "
            f"for example `due {today.isoformat()}`."
        )
        raise InvalidInput(message, fields={"due": "Not a date (YYYY-MM-DD)."}) from None
    check_due(parsed, today=today)
    return parsed


def check_due(due_on: date | None, *, today: date) -> None:
    """InvalidInput when the due date has already passed or is more than ten years away."""
    if due_on is not None and due_on < today:
        raise InvalidInput(
            f"The due date {due_on.isoformat()} has passed; pick today or a later day.",
            fields={"due": "Pick today or a later day."},
        )
    inputs.check_date_window(due_on, today=today, field="due", name="due date")


def parse_command(args: str, *, today: date) -> Request:
    """`<text> [@owner] [due YYYY-MM-DD]` (owner and due date at the end, in either order)."""
    tokens = args.split()
    owner: str | None = None
    due_on: date | None = None
    while tokens:
        last = tokens[-1]
        if owner is None and last.startswith(("<@", "@")):
            owner = parse_user(last, example=EXAMPLE)
            tokens.pop()
        elif due_on is None and len(tokens) >= 2 and tokens[-2].lower() == "due":
            due_on = parse_due(last, today=today)
            del tokens[-2:]
        else:
            break
    text = " ".join(tokens)
    if not text:
        raise InvalidInput(f"Say what needs doing: `{USAGE}`, for example `{EXAMPLE}`.")
    return Request(text=text, owner=owner, due_on=due_on)


def clean_text(text: str) -> str:
    """The action item's text, checked: InvalidInput when empty or too long."""
    return inputs.clean_text(
        text,
        field="text",
        name="action item",
        max_chars=TEXT_MAX,
        required=True,
        empty="Say what needs doing.",
    )


def create(
    session: Session,
    *,
    incident_id: int,
    text: str,
    owner: str,
    created_by: str,
    via: Via,
    policy: FollowUpPolicy,
    due_on: date | None = None,
    channel_id: str | None = None,
    message_ts: str | None = None,
    permalink: str | None = None,
    source_key: str | None = None,
    thread_ts: str | None = None,
    now: datetime | None = None,
) -> tuple[ActionItem, ActionItemCreated | None]:
    """Create an action item (once per `source_key`); returns it and, when new, its event.

    `thread_ts` is the thread the source message is in, if it is a reply (where the
    announcement in the incident's channel goes).
    """
    now = now or utcnow()
    clean = clean_text(text)
    check_due(due_on, today=policy.today(now))
    if session.get(Incident, incident_id) is None:
        raise NotFound(f"Incident {incident_id} does not exist; no action item was created.")
    values = {
        "incident_id": incident_id,
        "text": clean,
        "owner": owner,
        "due_on": due_on,
        "state": State.OPEN.value,
        "via": via.value,
        "channel_id": channel_id,
        "message_ts": message_ts,
        "permalink": (permalink or None) and permalink[:512],
        "source_key": source_key and source_key[:128],
        "created_by": created_by,
        "created_at": now,
    }
    statement = (
        insert_ignoring(session, ActionItem)
        .values(**values)
        .on_conflict_do_nothing()
        .returning(col(ActionItem.id))
    )
    inserted = session.execute(statement).first()
    if inserted is None:  # the same request was handled already
        existing = session.exec(
            select(ActionItem).where(ActionItem.source_key == values["source_key"])
        ).one()
        return existing, None
    item_id = int(inserted[0])
    item = get(session, item_id=item_id)
    followups.plan(session, kind=Kind.ACTION_ITEM, subject_id=item_id, policy=policy, now=now)
    event = ActionItemCreated(
        incident_id=incident_id,
        actor=created_by,
        at=now,
        item_id=item_id,
        owner=owner,
        due_on=due_on,
        thread_ts=thread_ts,
    )
    return item, event


def get(session: Session, *, item_id: int) -> ActionItem:
    """The action item with this id, or NotFound."""
    item = session.get(ActionItem, item_id)
    if item is None:
        raise NotFound(f"Action item AI-{item_id} does not exist.")
    return item


def of_incident(session: Session, *, incident_id: int) -> list[ActionItem]:
    """An incident's action items, oldest first."""
    query = (
        select(ActionItem).where(ActionItem.incident_id == incident_id).order_by(col(ActionItem.id))
    )
    return list(session.exec(query).all())


def open_for(session: Session, *, owner: str) -> list[tuple[ActionItem, Incident]]:
    """Someone's open action items across incidents, soonest due first (undated last)."""
    query = (
        select(ActionItem, Incident)
        .join(Incident, col(Incident.id) == col(ActionItem.incident_id))
        .where(ActionItem.owner == owner, ActionItem.state == State.OPEN.value)
        .order_by(col(ActionItem.due_on).is_(None), col(ActionItem.due_on), col(ActionItem.id))
    )
    return [(item, incident) for item, incident in session.exec(query).all()]


def complete(
    session: Session,
    *,
    item_id: int,
    actor: str,
    policy: FollowUpPolicy,
    now: datetime | None = None,
) -> tuple[ActionItem, ActionItemCompleted | None]:
    """Mark an action item done; returns it and its event (None when it was done already)."""
    now = now or utcnow()
    item = session.exec(
        select(ActionItem).where(ActionItem.id == item_id).with_for_update()
    ).first()
    if item is None:
        raise NotFound(f"Action item AI-{item_id} does not exist.")
    if item.state == State.DONE.value:
        return item, None
    item.state, item.completed_by, item.completed_at = State.DONE.value, actor, now
    session.add(item)
    session.flush()
    followups.plan(session, kind=Kind.ACTION_ITEM, subject_id=item_id, policy=policy, now=now)
    return item, ActionItemCompleted(
        incident_id=item.incident_id, actor=actor, at=now, item_id=item_id
    )
