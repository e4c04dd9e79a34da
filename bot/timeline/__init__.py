"""Incident timelines: captured messages, notes, the bot's own records, and the export.

Functions take the session first and everything else by keyword; they never call Slack
(bot.slack.timeline_capture does). A message is on an incident's timeline at most once: the
database's unique constraint decides, so retries, several reactors and replicas racing each
other all end with one entry. Events API deliveries are also claimed by `event_id`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Insert, Table, delete, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from bot.core import inputs, slack_text
from bot.core.errors import InvalidInput
from bot.core.events import (
    IncidentDeclared,
    IncidentEvent,
    IncidentResolved,
    RoleAssigned,
    SeverityChanged,
    StatusChanged,
    UpdatePosted,
)
from bot.core.vocabulary import Severity
from storage.models import EventReceipt, Incident
from storage.models_timeline import TimelineEntry
from storage.types import utcnow

NOTE_MAX = 3000
_COLUMNS = tuple(c.name for c in TimelineEntry.__table__.columns if c.name != "id")  # type: ignore[attr-defined]
NameOf = Callable[[str], str | None]


class Kind(StrEnum):
    """What a timeline entry is."""

    MESSAGE = "message"
    NOTE = "note"
    EVENT = "event"


class Via(StrEnum):
    """How an entry got onto the timeline."""

    REACTION = "reaction"
    SHORTCUT = "shortcut"
    COMMAND = "command"
    BOT = "bot"


class Added(StrEnum):
    """The outcome of adding a message."""

    ADDED = "added"
    ALREADY_THERE = "already_there"
    DUPLICATE_EVENT = "duplicate_event"


@dataclass(frozen=True)
class CapturedMessage:
    """A Slack message as the timeline keeps it (text already made readable)."""

    channel_id: str
    ts: str
    author: str | None
    author_name: str
    text: str
    files: list[str] = field(default_factory=list)
    thread_ts: str | None = None
    permalink: str | None = None
    edited_ts: str | None = None


def ts_to_datetime(ts: str) -> datetime:
    """The aware UTC time of a Slack `ts` such as `1700000000.123456`."""
    seconds, _, fraction = ts.partition(".")
    micros = int((fraction + "000000")[:6]) if fraction else 0
    return datetime.fromtimestamp(int(seconds), UTC).replace(microsecond=micros)


@functools.cache
def _insert_ignoring_conflicts(dialect: str, table: Table) -> Insert:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing().returning(*table.primary_key.columns)


def _insert_ignore(session: Session, model: type[Any], values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when the row was inserted.

    A plain Core statement, built once per table: this is the hot path of reaction capture.
    """
    connection = session.connection()
    statement = _insert_ignoring_conflicts(connection.dialect.name, model.__table__)
    return connection.execute(statement, values).first() is not None


def _row(**values: Any) -> dict[str, Any]:
    """Every column of a new timeline entry (a plain dict: cheaper than a model instance)."""
    row = dict.fromkeys(_COLUMNS)
    row.update(author_name="", text="", files="", created_at=utcnow())
    row.update(values)
    return row


def event_seen(session: Session, *, event_id: str) -> bool:
    """True when this Events API delivery has been handled already."""
    return session.get(EventReceipt, event_id) is not None


def claim_event(session: Session, *, event_id: str, event_type: str) -> bool:
    """Record an Events API delivery; False when another delivery of it got there first."""
    values = {"event_id": event_id[:64], "event_type": event_type[:64], "received_at": utcnow()}
    return _insert_ignore(session, EventReceipt, values)


def add_message(
    session: Session,
    *,
    incident_id: int,
    message: CapturedMessage,
    added_via: Via,
    added_by: str | None,
    event_id: str | None = None,
    event_type: str = "",
) -> Added:
    """Put a message on the timeline once, claiming `event_id` in the same transaction."""
    if event_id is not None and not claim_event(session, event_id=event_id, event_type=event_type):
        return Added.DUPLICATE_EVENT
    row = _row(
        incident_id=incident_id,
        kind=Kind.MESSAGE.value,
        occurred_at=ts_to_datetime(message.ts),
        author=message.author,
        author_name=inputs.strip_controls(message.author_name, multiline=False)[:128],
        text=inputs.strip_controls(message.text),
        files=inputs.strip_controls("\n".join(message.files)),
        channel_id=message.channel_id,
        message_ts=message.ts,
        thread_ts=message.thread_ts,
        permalink=(message.permalink or None) and message.permalink[:512],
        added_via=added_via.value,
        added_by=added_by,
        edited_ts=message.edited_ts,
    )
    inserted = _insert_ignore(session, TimelineEntry, row)
    return Added.ADDED if inserted else Added.ALREADY_THERE


def add_note(
    session: Session,
    *,
    incident: Incident,
    author: str,
    author_name: str,
    text: str,
    now: datetime | None = None,
) -> TimelineEntry:
    """A manual entry at the current time (`/incident note`)."""
    clean = inputs.clean_text(
        text,
        field="text",
        name="note",
        max_chars=NOTE_MAX,
        required=True,
        empty="Write the note after the command: `/incident note <text>`.",
    )
    assert incident.id is not None
    entry = TimelineEntry(
        incident_id=incident.id,
        kind=Kind.NOTE.value,
        occurred_at=now or utcnow(),
        author=author,
        author_name=inputs.strip_controls(author_name, multiline=False)[:128],
        text=clean,
        added_via=Via.COMMAND.value,
        added_by=author,
        created_at=utcnow(),
    )
    session.add(entry)
    session.flush()
    return entry


def event_key(event: IncidentEvent) -> str:
    """What makes one incident event one timeline entry."""
    if isinstance(event, UpdatePosted):
        return f"update:{event.update_id}"
    return f"{event.kind}:{event.at.astimezone(UTC).isoformat()}"


def describe_event(event: IncidentEvent, *, incident: Incident, name_of: NameOf) -> str:
    """The timeline text of an incident event, without its actor (who is the author)."""

    def name(user: str | None) -> str:
        return (name_of(user) or user) if user else "nobody"

    match event:
        case IncidentDeclared():
            return (
                f"declared incident #{incident.number} {incident.title} "
                f"({Severity(incident.severity).label})"
            )
        case StatusChanged(old=old, new=new):
            return f"changed the status from {old.label} to {new.label}"
        case SeverityChanged(old=old_severity, new=new_severity):
            return f"changed the severity from {old_severity.label} to {new_severity.label}"
        case RoleAssigned(role=role, user=user, previous=previous):
            if previous:
                return f"handed the {role.label.lower()} role from {name(previous)} to {name(user)}"
            return f"made {name(user)} the {role.label.lower()}"
        case UpdatePosted():
            text = slack_text.render(event.message, user_name=name_of)
            changed = event.status_changed
            suffix = f" (status now {event.new_status.label})" if changed else ""
            return f"posted an update{suffix}: {text}"
        case IncidentResolved(resolution=how):
            return f"resolved the incident: {how}" if how else "resolved the incident"
    return event.kind.replace("_", " ")


def record_event(session: Session, *, event: IncidentEvent, text: str, author_name: str) -> bool:
    """The bot's own entry for an incident event; False when it was recorded already."""
    row = _row(
        incident_id=event.incident_id,
        kind=Kind.EVENT.value,
        occurred_at=event.at,
        author=event.actor,
        author_name=inputs.strip_controls(author_name, multiline=False)[:128],
        text=inputs.strip_controls(text),
        added_via=Via.BOT.value,
        event_key=event_key(event)[:96],
    )
    return _insert_ignore(session, TimelineEntry, row)


def entries_for_message(
    session: Session, *, channel_id: str, message_ts: str
) -> list[TimelineEntry]:
    """Every timeline entry made from this message (one per incident at most)."""
    query = select(TimelineEntry).where(
        TimelineEntry.channel_id == channel_id, TimelineEntry.message_ts == message_ts
    )
    return list(session.exec(query).all())


def _newer(edited_ts: str | None, than: str | None) -> bool:
    if than is None:
        return True
    return edited_ts is not None and float(edited_ts) >= float(than)


def update_message(
    session: Session,
    *,
    channel_id: str,
    message_ts: str,
    text: str,
    files: list[str],
    edited_ts: str | None,
) -> int:
    """Take an edit into the message's entries (older edits arriving late change nothing)."""
    changed = 0
    for entry in entries_for_message(session, channel_id=channel_id, message_ts=message_ts):
        if not _newer(edited_ts, entry.edited_ts):
            continue
        entry.text = inputs.strip_controls(text)
        entry.files, entry.edited_ts = inputs.strip_controls("\n".join(files)), edited_ts
        session.add(entry)
        changed += 1
    return changed


def mark_deleted(
    session: Session, *, channel_id: str, message_ts: str, now: datetime | None = None
) -> int:
    """Mark the entries of a deleted message as deleted (they stay on the timeline)."""
    result = session.execute(
        update(TimelineEntry)
        .where(col(TimelineEntry.channel_id) == channel_id)
        .where(col(TimelineEntry.message_ts) == message_ts)
        .where(col(TimelineEntry.deleted_at).is_(None))
        .values(deleted_at=now or utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def remove_reacted(session: Session, *, channel_id: str, message_ts: str) -> int:
    """Remove the entries a reaction made for this message (shortcut entries stay)."""
    result = session.execute(
        delete(TimelineEntry)
        .where(col(TimelineEntry.channel_id) == channel_id)
        .where(col(TimelineEntry.message_ts) == message_ts)
        .where(col(TimelineEntry.added_via) == Via.REACTION.value)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def count(session: Session, *, incident_id: int) -> int:
    """How many entries the incident's timeline has."""
    query = select(func.count()).where(TimelineEntry.incident_id == incident_id)
    return int(session.exec(query).one())


def entries(
    session: Session, *, incident_id: int, offset: int = 0, limit: int | None = None
) -> list[TimelineEntry]:
    """The incident's timeline in order of when things happened."""
    query = (
        select(TimelineEntry)
        .where(TimelineEntry.incident_id == incident_id)
        .order_by(col(TimelineEntry.occurred_at), col(TimelineEntry.id))
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query).all())


def _indent(text: str) -> str:
    return text.replace("\n", "\n  ")


def entry_markdown(entry: TimelineEntry) -> str:
    """One entry as a Markdown list item (times in UTC)."""
    at = entry.occurred_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    who = entry.author_name or entry.author or "someone"
    if entry.kind == Kind.EVENT.value:
        line = f"- **{at}** · {who} {entry.text}"
    elif entry.kind == Kind.NOTE.value:
        line = f"- **{at}** · Note by {who}: {entry.text}"
    else:
        line = f"- **{at}** · {who}: {entry.text}"
        if entry.permalink:
            line += f" ([message]({entry.permalink}))"
    if entry.deleted_at is not None:
        line += " *(message deleted)*"
    line = _indent(line)
    if entry.files:
        line += "\n  Files: " + ", ".join(entry.files.splitlines())
    return line


def markdown(session: Session, *, incident_id: int) -> str:
    """The whole timeline as Markdown, for the post-mortem and for download."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise InvalidInput(f"Incident {incident_id} does not exist.")
    rows = entries(session, incident_id=incident_id)
    head = [
        f"## Timeline of incident #{incident.number}: {incident.title}",
        "",
        f"{len(rows)} entries. All times are UTC.",
        "",
    ]
    body = [entry_markdown(entry) for entry in rows] or ["*Nothing on the timeline yet.*"]
    return "\n".join(head + body) + "\n"
