"""Owners' reminders as a source of the delivery engine (`bot.core.delivery`).

The `followup_reminder` table is the source: a leased row is re-planned from its action item
or post-mortem (done, completed or moved since it was claimed: nothing goes out), its item is
an `Outgoing` to the owner, its key names the subject and the day (at most one a day), and a
delivery is logged in `followup_delivery`. Slack is called by `bot.slack.followup_sender`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from bot.core.delivery import Attempt, Receipt, Source, log_delivery
from bot.followups import Subject, absorb, subject
from bot.followups.policy import FollowUpPolicy, Kind
from storage.models_postmortems import FollowUpDelivery, FollowUpReminder


@dataclass(frozen=True)
class Outgoing:
    """Everything needed to send one reminder, decided inside the database."""

    reminder_id: int
    key: str
    subject: Subject
    recipient: str
    days_late: int  # 0 on the due date


class FollowUpSource(Source[FollowUpReminder, Outgoing, FollowUpPolicy]):
    """The `followup_reminder` table: one row per action item or post-mortem."""

    name = "follow-up reminder"
    model = FollowUpReminder

    def new_key(self, row: FollowUpReminder, now: datetime) -> str:
        """The subject and the day: an owner hears about one thing at most once a day."""
        return self.policy.key(row.kind, row.subject_id, now)

    def load(
        self, session: Session, row: FollowUpReminder, attempt: Attempt, now: datetime
    ) -> Outgoing | None:
        """Re-plan the row from its subject; the reminder to send if it is still due."""
        subj = subject(session, kind=Kind(row.kind), subject_id=row.subject_id)
        absorb(row, subj, self.policy)
        if subj is None or subj.recipient is None:
            return None
        late = (self.policy.today(now) - subj.due_on).days if subj.due_on else 0
        assert row.id is not None
        return Outgoing(
            reminder_id=row.id,
            key=attempt.key,
            subject=subj,
            recipient=subj.recipient,
            days_late=max(0, late),
        )

    def record(self, session: Session, item: Outgoing, receipt: Receipt, *, owner: str) -> None:
        """Log the reminder in `followup_delivery` (once per key)."""
        subj = item.subject
        log_delivery(
            session,
            FollowUpDelivery,
            receipt,
            key=item.key,
            sent_by=owner,
            kind=subj.kind.value,
            subject_id=subj.subject_id,
            incident_id=subj.incident_id,
            recipient=item.recipient,
        )

    def plan_next(
        self,
        session: Session,
        row: FollowUpReminder,
        item: Outgoing,
        receipt: Receipt,
        now: datetime,
    ) -> None:
        """Count the reminder; the next one is due the next day, if still open."""
        row.last_sent_at, row.sent_count = receipt.sent_at, row.sent_count + 1
        subj = item.subject
        absorb(row, subject(session, kind=subj.kind, subject_id=subj.subject_id), self.policy)
