"""The outbox as a source of the delivery engine (`bot.core.delivery`).

A leased `outbox` row becomes an `OutboxItem`: the stored event and the subscriber to call.
Its key is the row's delivery id, the same for every attempt. Rows that make a channel
usable are claimed before the others (`first`), the rest oldest first. Before it goes out,
`load` checks the row: delivered already (by an attempt whose lease ran out) or superseded
by a newer refresh of the same lane, nothing goes out; a row that needs the incident's channel
waits for it (`NotReady`). A delivery is recorded on the row itself (`delivered_at`,
`delivered_by`); a setup step that is delivered or given up moves the incident's setup state.
The subscriber is called by `bot.slack.outbox`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, update
from sqlmodel import Session, col, select

from bot import outbox
from bot.core.delivery import Attempt, Failure, NotReady, Receipt, Source
from bot.core.events import Event, EventBus, from_json
from storage.models import Incident
from storage.models_outbox import OutboxDelivery

SUPERSEDED = "(superseded)"  # `delivered_by` of a refresh a newer one made moot


@dataclass(frozen=True)
class OutboxPolicy:
    """How long a replica holds a delivery it claimed before another may take it over."""

    lease: timedelta


@dataclass(frozen=True)
class OutboxItem:
    """One delivery to make: call `subscriber` with `event`, under delivery id `key`."""

    row_id: int
    incident_id: int
    subscriber: str
    event: Event
    key: str
    check_first: bool  # an earlier attempt may have got through: look for `key` first
    since: datetime  # when the first attempt under `key` began


class OutboxSource(Source[OutboxDelivery, OutboxItem, OutboxPolicy]):
    """The `outbox` table: one row per committed event and subscriber."""

    name = "outbox"
    model = OutboxDelivery

    def channel(self, item: OutboxItem) -> str:
        """`outbox:<subscriber>` (channel, card, notices, timeline...)."""
        return f"outbox:{item.subscriber}"

    def __init__(self, policy: OutboxPolicy, bus: EventBus) -> None:
        super().__init__(policy)
        self.bus = bus

    def ready(self, now: datetime) -> Any:
        """Lanes go in order; what needs the channel waits for it (`bot.outbox.ready`)."""
        return outbox.ready()

    def first(self) -> Any:
        """Deliveries that make a channel usable (`Subscription.prompt`: making it, inviting
        its people) before the rest: a declaration made behind a backlog of setups gets its
        channel within seconds; the other steps of every setup follow, oldest first."""
        prompt = self.bus.prompt()
        if not prompt:
            return None
        return case((col(OutboxDelivery.subscriber).in_(prompt), 0), else_=1)

    def new_key(self, row: OutboxDelivery, now: datetime) -> str:
        """The delivery id: the same for every attempt, whoever makes it."""
        return row.key

    def _superseded(self, session: Session, row: OutboxDelivery) -> bool:
        subscription = self.bus.subscription(row.subscriber)
        if subscription is None or not subscription.coalesce or row.event_kind == outbox.DECLARED:
            return False
        newer = session.exec(
            select(OutboxDelivery.id)
            .where(
                OutboxDelivery.incident_id == row.incident_id,
                OutboxDelivery.subscriber == row.subscriber,
                col(OutboxDelivery.id) > row.id,
                col(OutboxDelivery.due_at).is_not(None),
            )
            .limit(1)
        ).first()
        return newer is not None

    def load(
        self, session: Session, row: OutboxDelivery, attempt: Attempt, now: datetime
    ) -> OutboxItem | None:
        """The delivery to make, if it still needs making."""
        if row.delivered_at is not None:
            row.due_at = None  # an attempt whose lease had run out got it delivered
            return None
        if self._superseded(session, row):
            row.due_at, row.delivered_at, row.delivered_by = None, now, SUPERSEDED
            return None
        try:
            event = from_json(row.event)
        except ValueError as exc:  # a kind this version does not know (a downgrade)
            row.due_at, row.last_error = None, f"gave up: {exc}"[:200]
            return None
        if self.bus.subscription(row.subscriber) is None:
            row.due_at, row.last_error = None, f"gave up: no subscriber {row.subscriber}"
            return None
        if row.needs_channel:
            incident = session.get(Incident, row.incident_id)
            if incident is None or not incident.channel_id:
                raise NotReady("the incident has no channel yet")
        assert row.id is not None
        return OutboxItem(
            row_id=row.id,
            incident_id=row.incident_id,
            subscriber=row.subscriber,
            event=event,
            key=attempt.key,
            check_first=attempt.check_first,
            since=attempt.pending_since,
        )

    def record(self, session: Session, item: OutboxItem, receipt: Receipt, *, owner: str) -> None:
        """Mark the row delivered (once: a second delivery of it keeps the first record)."""
        session.execute(
            update(OutboxDelivery)
            .where(
                col(OutboxDelivery.id) == item.row_id, col(OutboxDelivery.delivered_at).is_(None)
            )
            .values(delivered_at=receipt.sent_at, delivered_by=owner)
        )

    def plan_next(
        self,
        session: Session,
        row: OutboxDelivery,
        item: OutboxItem,
        receipt: Receipt,
        now: datetime,
    ) -> None:
        """Nothing more to deliver; a setup step may complete the incident's setup."""
        row.due_at = None
        if outbox.is_setup_step(self.bus, row):
            session.add(row)
            outbox.setup_progress(session, self.bus, row.incident_id)

    def gave_up(
        self, session: Session, row: OutboxDelivery, failure: Failure, now: datetime
    ) -> None:
        """A given-up setup step fails the incident's setup, and the declarer is told; a
        given-up refresh or notice of a later change is told to whoever made the change."""
        if outbox.is_setup_step(self.bus, row):
            outbox.setup_failed(session, self.bus, row, failure.error, now)
        else:
            outbox.not_updated(session, self.bus, row, failure, now)
