"""Stakeholder notices as a source of the delivery engine (`bot.core.delivery`).

The `stakeholder_notice` table is the source: a row is due while it is `pending` (held
rows wait for the incident manager, sent ones are done), its item is a `Notice`, and its key
is the notice's own (the same on every attempt, so a mail keeps its Message-ID, a Mastodon
post its Idempotency-Key, a webhook its delivery id). The engine's failure rules apply:
transient failures are retried with back-off without limit, refusals are given up (the
row keeps its error for `/incident comms`); nothing is dropped. The senders are called by
`bot.slack.notice_sender`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.core.delivery import Attempt, Failure, Receipt, Source, insert_ignoring
from bot.stakeholders import social
from bot.stakeholders.notice import Notice
from bot.stakeholders.planning import PENDING, SENT, notice_key
from storage.models import Incident
from storage.models_stakeholders import StakeholderNotice

GAVE_UP = "gave up: "  # how the engine marks a row it gave up on (`last_error`)


@dataclass(frozen=True)
class NoticeConfig:
    """What the source is configured with."""

    lease: timedelta


def is_given_up(row: StakeholderNotice) -> bool:
    """True for a pending notice the engine gave up on (a refusal): shown as failed."""
    return row.state == PENDING and row.due_at is None and bool(row.last_error)


class NoticeSource(Source[StakeholderNotice, Notice, NoticeConfig]):
    """The `stakeholder_notice` table: one row per (event, recipient, channel)."""

    name = "stakeholder notice"
    model = StakeholderNotice

    def channel(self, item: Notice) -> str:
        """slack, invite, email, sms, webhook or mastodon."""
        return item.channel

    def new_key(self, row: StakeholderNotice, now: datetime) -> str:
        """The notice's own key."""
        return row.key

    def load(
        self, session: Session, row: StakeholderNotice, attempt: Attempt, now: datetime
    ) -> Notice | None:
        """The notice to send, if it is still pending."""
        if row.state != PENDING or row.id is None:
            row.due_at = None  # held or done since it was claimed: nothing to send
            return None
        incident = session.get(Incident, row.incident_id) if row.incident_id else None
        return Notice(
            id=row.id,
            key=row.key,
            incident_id=row.incident_id,
            channel=row.channel,
            recipient=row.recipient,
            trigger=row.trigger,
            event=row.event,
            group=row.group_name,
            quadrant=row.quadrant,
            payload=json.loads(row.payload or "{}"),
            attempts=row.attempts,
            incident_channel_id=incident.channel_id if incident is not None else None,
            parent_id=row.parent_id,
            outcome_unknown=attempt.check_first,
        )

    def record(self, session: Session, item: Notice, receipt: Receipt, *, owner: str) -> None:
        """Mark the notice sent (by key: also when the lease was lost meanwhile)."""
        session.execute(
            update(StakeholderNotice)
            .where(col(StakeholderNotice.key) == item.key)
            .values(
                state=SENT,
                sent_at=receipt.sent_at,
                due_at=None,
                provider_ref=(receipt.reference or "")[:200] or None,
            )
            .execution_options(synchronize_session=False)
        )

    def plan_next(
        self,
        session: Session,
        row: StakeholderNotice,
        item: Notice,
        receipt: Receipt,
        now: datetime,
    ) -> None:
        """A notice goes out once: nothing more is due (a Mastodon post's preview shows it)."""
        row.state, row.due_at, row.sent_at = SENT, None, receipt.sent_at
        row.provider_ref = (receipt.reference or "")[:200] or None
        social.after_outcome(session, row, reason="sent", now=now)

    def gave_up(
        self, session: Session, row: StakeholderNotice, failure: Failure, now: datetime
    ) -> None:
        """A Mastodon post given up: its preview says so."""
        social.after_outcome(session, row, reason="gave-up", now=now)


def add_members(session: Session, *, parent_id: int, users: list[str], now: datetime) -> int:
    """One notice per member of the Slack user group a notice went to; count those added.

    A member who already has this notice (listed directly, or expanded before a crash) keeps
    the one they have: the key is the same.
    """
    parent = session.get(StakeholderNotice, parent_id)
    if parent is None or not users:
        return 0
    values = [
        {
            "key": notice_key(parent.incident_id or 0, parent.event, parent.channel, user),
            "incident_id": parent.incident_id,
            "event": parent.event,
            "trigger": parent.trigger,
            "group_name": parent.group_name,
            "quadrant": parent.quadrant,
            "channel": parent.channel,
            "recipient": user,
            "parent_id": parent.id,
            "payload": parent.payload,
            "state": PENDING,
            "due_at": now,
            "attempts": 0,
            "requested_by": parent.requested_by,
            "created_at": now,
        }
        for user in dict.fromkeys(users)
    ]
    statement = insert_ignoring(session, StakeholderNotice).values(values)
    statement = statement.on_conflict_do_nothing(index_elements=["key"])
    return len(session.execute(statement.returning(col(StakeholderNotice.id))).all())


def retry_failed(session: Session, *, incident_id: int, now: datetime) -> int:
    """Send an incident's given-up notices again (a fresh round of attempts); count them."""
    rows = session.exec(
        select(StakeholderNotice)
        .where(
            StakeholderNotice.incident_id == incident_id,
            StakeholderNotice.state == PENDING,
            col(StakeholderNotice.due_at).is_(None),
        )
        .with_for_update()
    ).all()
    count = 0
    for row in rows:
        if is_given_up(row):
            row.due_at, row.attempts, row.last_error = now, 0, None
            session.add(row)
            count += 1
    return count
