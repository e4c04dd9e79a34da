"""Subscriber mails as a source of the delivery engine (`bot.core.delivery`).

The `status_mail` table is the source: a row is due while it is `pending` with `due_at` set,
its item is the `OutgoingMail` it becomes (composed at send time, so an unsubscribe in
between is honoured), and its key is stable (`status-mail-<id>`): every attempt carries the
same Message-ID, so a mail retried after a lost answer is recognisably the same mail. The
engine's failure rules apply: an unreachable server or a 4xx answer is retried with back-off
without limit, a refusal (5xx, bad credentials) gives the row up with its error kept. The
send function is the one e-mail channel (`bot.outbound.notice_mail.MailChannel`), driven by
`bot.slack.statuspage`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col

from bot.core.delivery import Attempt, Receipt, Source
from bot.core.mail import OutgoingMail
from bot.statuspage import mails
from bot.statuspage.config import PageConfig
from storage.models_statuspage import StatusMail

SENT, SKIPPED = "sent", "skipped"


@dataclass(frozen=True)
class MailConfig:
    """What the source is configured with."""

    lease: timedelta
    page: PageConfig


@dataclass(frozen=True)
class SubscriberMail:
    """One subscriber mail to hand to the mail channel."""

    id: int
    key: str
    mail: OutgoingMail


def mail_key(mail_id: int) -> str:
    """The delivery key of a subscriber mail (the same on every attempt)."""
    return f"status-mail-{mail_id}"


class StatusMailSource(Source[StatusMail, SubscriberMail, MailConfig]):
    """The `status_mail` table: one row per (subscriber, confirmation or update)."""

    name = "status page mail"
    model = StatusMail

    def new_key(self, row: StatusMail, now: datetime) -> str:
        """The mail's own key."""
        assert row.id is not None
        return mail_key(row.id)

    def load(
        self, session: Session, row: StatusMail, attempt: Attempt, now: datetime
    ) -> SubscriberMail | None:
        """The mail to send; None (and the row `skipped`) when nobody is left to mail."""
        if row.state != "pending" or row.id is None:
            row.due_at = None
            return None
        try:
            mail = mails.compose(session, config=self.policy.page, mail=row)
        except mails.NothingToSend:
            row.state, row.due_at, row.sent_at = SKIPPED, None, now
            return None
        return SubscriberMail(row.id, mail_key(row.id), mail)

    def record(
        self, session: Session, item: SubscriberMail, receipt: Receipt, *, owner: str
    ) -> None:
        """Mark the mail sent (by id: also when the lease was lost meanwhile)."""
        session.execute(
            update(StatusMail)
            .where(col(StatusMail.id) == item.id)
            .values(state=SENT, sent_at=receipt.sent_at, due_at=None, last_error=None)
            .execution_options(synchronize_session=False)
        )

    def plan_next(
        self,
        session: Session,
        row: StatusMail,
        item: SubscriberMail,
        receipt: Receipt,
        now: datetime,
    ) -> None:
        """A mail goes out once: nothing more is due."""
        row.state, row.due_at, row.sent_at, row.last_error = SENT, None, receipt.sent_at, None
