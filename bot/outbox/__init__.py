"""The outbox of side effects: what a committed change still has to do, durably.

`enqueue` writes, in the transaction of the change itself, one `outbox` row per event and
subscriber that takes its kind (`bot.core.events.EventBus`), keyed by the delivery id
(`delivery_key`), so the same event enqueued twice is delivered once. The delivery engine
delivers the rows (`bot.outbox.claims`, a source of it): by whichever replica is alive, in
order within a lane of one incident, each outcome recorded on the row. This module also keeps
the incident's setup state in step with its setup deliveries, lists what is pending or given
up for admins, re-arms deliveries on request and trims delivered rows after a while.
Functions take the session first; none calls Slack.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, delete, exists, func, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from bot.core.delivery import Failure, insert_ignoring
from bot.core.events import (
    Event,
    EventBus,
    IncidentDeclared,
    NotUpdated,
    SetupFailed,
    delivery_key,
    from_json,
)
from storage.models import Incident
from storage.models_outbox import OutboxDelivery
from storage.types import utcnow

log = logging.getLogger(__name__)

__all__ = ["OutboxDelivery", "enqueue"]

DECLARED = IncidentDeclared.kind
TRIM_BATCH = 1000


def _lock_incidents(session: Session, incident_ids: Iterable[int]) -> None:
    """Serialise writers of these incidents' deliveries until this transaction ends.

    On PostgreSQL, rows get their ids when inserted but become visible when committed: two
    changes of one incident committed in the other order would be delivered out of order.
    Holding the incident row (FOR NO KEY UPDATE, which an UPDATE of the incident takes anyway)
    makes id order the commit order. SQLite has one writer at a time already.
    """
    ids = sorted(set(incident_ids))
    if ids and session.get_bind().dialect.name == "postgresql":
        session.execute(
            select(Incident.id).where(col(Incident.id).in_(ids)).with_for_update(key_share=True)
        )


def enqueue(
    session: Session, bus: EventBus, events: Sequence[Event], *, now: datetime | None = None
) -> int:
    """Write the deliveries of `events` (one per event and subscriber); returns how many.

    Call it inside the transaction that made the change: the change and its deliveries commit
    together, or neither does. A delivery already there (the same event again) is kept as is.
    """
    now = now or utcnow()
    rows = []
    for event in events:
        for sub in bus.subscriptions_for(event):
            rows.append(
                {
                    "key": delivery_key(sub.name, event),
                    "incident_id": event.incident_id,
                    "subscriber": sub.name,
                    "event_kind": event.kind,
                    "event": event.to_json(),
                    "lane": sub.lane,
                    "barrier": sub.barrier,
                    "needs_channel": sub.needs_channel,
                    "created_at": now,
                    "due_at": now,
                    "attempts": 0,
                }
            )
    if not rows:
        return 0
    _lock_incidents(session, (event.incident_id for event in events))
    session.execute(
        insert_ignoring(session, OutboxDelivery)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    return len(rows)


def ready() -> object:
    """The condition a due row must meet to go out: no earlier delivery of its incident in
    its lane is still pending, and, if it needs the channel, the channel delivery is done."""
    row, earlier = OutboxDelivery, aliased(OutboxDelivery)
    blocking = exists().where(
        col(earlier.incident_id) == col(row.incident_id),
        col(earlier.id) < col(row.id),
        or_(
            and_(col(earlier.lane) == col(row.lane), col(earlier.due_at).is_not(None)),
            and_(
                col(earlier.barrier).is_(True),
                col(earlier.delivered_at).is_(None),
                col(row.needs_channel).is_(True),
            ),
        ),
    )
    return ~blocking


# -- the incident's setup -------------------------------------------------------------------


def is_setup_step(bus: EventBus, row: OutboxDelivery) -> bool:
    """True when the row is a step of its incident's setup."""
    return row.event_kind == DECLARED and row.subscriber in bus.setup_steps()


def _locked_incident(session: Session, incident_id: int) -> Incident | None:
    return session.get(Incident, incident_id, with_for_update={"key_share": True})


def setup_progress(session: Session, bus: EventBus, incident_id: int) -> None:
    """Mark the incident's setup complete once every setup step is delivered."""
    incident = _locked_incident(session, incident_id)  # the last step to finish sees the rest
    if incident is None or incident.setup_state == "complete":
        return
    undelivered = session.exec(
        select(func.count())
        .select_from(OutboxDelivery)
        .where(
            OutboxDelivery.incident_id == incident_id,
            OutboxDelivery.event_kind == DECLARED,
            col(OutboxDelivery.subscriber).in_(list(bus.setup_steps())),
            col(OutboxDelivery.delivered_at).is_(None),
        )
    ).one()
    if undelivered == 0:
        incident.setup_state, incident.setup_error = "complete", None
        incident.updated_at = utcnow()
        session.add(incident)


def setup_failed(
    session: Session, bus: EventBus, row: OutboxDelivery, error: str, now: datetime
) -> None:
    """A setup step was given up: record it on the incident and tell the declarer (once per
    failure: a SetupFailed event, itself delivered through the outbox)."""
    incident = _locked_incident(session, row.incident_id)
    if incident is None:
        return
    step = bus.setup_steps().get(row.subscriber, row.subscriber)
    why = error.removeprefix("gave up: ").rstrip(".")
    message = f"{step[:1].upper()}{step[1:]} failed: {why}."
    already = incident.setup_state == "failed"
    incident.setup_state, incident.setup_error = "failed", message
    incident.updated_at = now
    session.add(incident)
    log.warning("setup of incident %s failed: %s", row.incident_id, message)
    if not already:
        event = SetupFailed(
            incident_id=row.incident_id,
            actor=incident.declared_by,
            at=now,
            step=row.subscriber,
            error=message,
        )
        enqueue(session, bus, [event], now=now)


def not_updated(
    session: Session, bus: EventBus, row: OutboxDelivery, failure: Failure, now: datetime
) -> None:
    """A delivery that shows a change in Slack was given up: tell whoever made the change
    which surface does not show it (a NotUpdated event, itself delivered by the outbox)."""
    subscription = bus.subscription(row.subscriber)
    what = failure.what or (subscription.surface if subscription else None)
    if not what or row.event_kind == NotUpdated.kind:
        return
    try:
        event = from_json(row.event)
    except ValueError:
        return
    if event.actor[:1] not in ("U", "W"):
        return  # the bot's own change (a scheduled one): nobody to tell
    reason = failure.error if failure.error.startswith("Slack answered") else None
    told = NotUpdated(
        incident_id=row.incident_id,
        actor=event.actor,
        at=now,
        what=f"{what} ({reason or 'an error on our side, logged'})",
    )
    enqueue(session, bus, [told], now=now)


def reconcile_setup(session: Session, bus: EventBus, *, limit: int = 100) -> int:
    """Give incidents that have no setup deliveries (declared before the outbox existed, set
    up when the bot stopped) their IncidentDeclared deliveries; returns how many."""
    declared = exists().where(
        col(OutboxDelivery.incident_id) == col(Incident.id),
        col(OutboxDelivery.event_kind) == DECLARED,
    )
    stuck = session.exec(
        select(Incident)
        .where(col(Incident.setup_state).in_(["pending", "running"]), ~declared)
        .order_by(col(Incident.id))
        .limit(limit)
    ).all()
    for incident in stuck:
        assert incident.id is not None
        event = IncidentDeclared(
            incident_id=incident.id, actor=incident.declared_by, at=incident.declared_at
        )
        enqueue(session, bus, [event])
        incident.setup_state = "pending"
        session.add(incident)
    return len(stuck)


# -- for admins -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Undelivered:
    """A delivery not done yet: pending (to be tried at `due_at`) or given up."""

    row_id: int
    incident_id: int
    number: int
    title: str
    private: bool
    subscriber: str
    event_kind: str
    attempts: int
    last_error: str | None
    due_at: datetime | None
    created_at: datetime
    leased: bool

    @property
    def failed(self) -> bool:
        """Given up: not retried until someone retries it."""
        return self.due_at is None


def undelivered(
    session: Session, *, limit: int = 40, now: datetime | None = None
) -> list[Undelivered]:
    """Given-up deliveries first (newest first), then pending ones (oldest first)."""
    now = now or utcnow()
    row = OutboxDelivery
    query = (
        select(row, Incident)
        .join(Incident, col(Incident.id) == row.incident_id)
        .where(col(row.delivered_at).is_(None))
        .order_by(
            case((col(row.due_at).is_(None), 0), else_=1),
            case((col(row.due_at).is_(None), col(row.id) * -1), else_=col(row.id)),
        )
        .limit(limit)
    )
    found = []
    for delivery, incident in session.exec(query).all():
        assert delivery.id is not None
        found.append(
            Undelivered(
                row_id=delivery.id,
                incident_id=delivery.incident_id,
                number=incident.number,
                title=incident.title,
                private=incident.private,
                subscriber=delivery.subscriber,
                event_kind=delivery.event_kind,
                attempts=delivery.attempts,
                last_error=delivery.last_error,
                due_at=delivery.due_at,
                created_at=delivery.created_at,
                leased=delivery.lease_until is not None and delivery.lease_until > now,
            )
        )
    return found


@dataclass(frozen=True)
class Counts:
    """How many deliveries are pending (and of those, overdue) and given up."""

    pending: int
    overdue: int
    failed: int


def counts(session: Session, *, now: datetime | None = None, late: timedelta) -> Counts:
    """The outbox at a glance; `late`: a pending delivery older than this is overdue."""
    now = now or utcnow()
    row = OutboxDelivery
    pending, overdue, failed = session.exec(
        select(
            func.count(row.due_at),  # type: ignore[arg-type]
            func.count(
                case((and_(col(row.due_at).is_not(None), col(row.created_at) < now - late), 1))
            ),
            func.count(case((col(row.due_at).is_(None), 1))),
        ).where(col(row.delivered_at).is_(None))
    ).one()
    return Counts(pending=pending, overdue=overdue, failed=failed)


def retry(
    session: Session, bus: EventBus, *, row_id: int, now: datetime | None = None
) -> OutboxDelivery | None:
    """Try a pending or given-up delivery again now; None when there is no such delivery
    (delivered already, trimmed). A delivery being sent right now is left alone."""
    now = now or utcnow()
    row = session.get(OutboxDelivery, row_id, with_for_update=True)
    if row is None or row.delivered_at is not None:
        return None
    if row.lease_until is None or row.lease_until <= now:
        row.due_at, row.attempts = now, 0
        session.add(row)
        if is_setup_step(bus, row):
            incident = _locked_incident(session, row.incident_id)
            if incident is not None and incident.setup_state == "failed":
                incident.setup_state = "pending"
                session.add(incident)
    return row


def retry_incident(
    session: Session, bus: EventBus, *, incident_id: int, now: datetime | None = None
) -> int:
    """Try every given-up delivery of the incident again now (the "Retry setup" button)."""
    now = now or utcnow()
    given_up = session.exec(
        select(OutboxDelivery.id).where(
            OutboxDelivery.incident_id == incident_id,
            col(OutboxDelivery.due_at).is_(None),
            col(OutboxDelivery.delivered_at).is_(None),
        )
    ).all()
    for row_id in given_up:
        assert row_id is not None
        retry(session, bus, row_id=row_id, now=now)
    incident = _locked_incident(session, incident_id)
    if incident is not None and incident.setup_state == "failed":
        incident.setup_state = "pending"  # no step row left to re-arm: pending all the same
        session.add(incident)
    return len(given_up)


def trim(session: Session, *, before: datetime) -> int:
    """Delete up to TRIM_BATCH deliveries done before `before`; returns how many."""
    old = (
        select(OutboxDelivery.id)
        .where(col(OutboxDelivery.delivered_at) < before)
        .limit(TRIM_BATCH)
        .scalar_subquery()
    )
    result = session.execute(delete(OutboxDelivery).where(col(OutboxDelivery.id).in_(old)))
    return int(result.rowcount)  # type: ignore[attr-defined]
