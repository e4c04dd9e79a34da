"""Sending the status page's subscriber mails over SMTP, one `status_mail` row at a time.

`StatusMailSender.send(row)` is shaped for the delivery engine: it returns when the mail was
handed over (or had nobody left to go to) and raises MailError(retryable=...) otherwise.
Until that engine drives it, `deliver_due` claims due rows (a lease: one replica each),
sends them and records the outcome; the scheduler calls it (bot.slack.statuspage).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.outbound.smtp import MailError, SmtpMailer
from bot.statuspage import mails, subscriptions
from bot.statuspage.config import PageConfig
from storage import Database
from storage.models_statuspage import StatusMail
from storage.types import utcnow

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)


class StatusMailSender:
    """Composes and sends one subscriber mail."""

    def __init__(self, db: Database, config: PageConfig, mailer: SmtpMailer) -> None:
        self.db = db
        self.config = config
        self.mailer = mailer

    def send(self, row: StatusMail) -> None:
        """Send the mail of `row`; MailError(retryable=...) when it could not be handed over."""
        with self.db.read() as session:
            try:
                mail = mails.compose(session, config=self.config, mail=row)
            except mails.NothingToSend:
                return
        self.mailer.send(mail)


@dataclass
class DeliveryReport:
    """What one round did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0


def deliver_due(
    db: Database,
    sender: StatusMailSender,
    *,
    owner: str,
    clock: Callable[[], datetime] = utcnow,
    limit: int = 50,
) -> DeliveryReport:
    """Send every due mail (up to `limit`), recording each outcome in the database."""
    report = DeliveryReport()
    with db.session() as session:
        claimed = subscriptions.claim_due(
            session, owner=owner, now=clock(), lease=LEASE, limit=limit
        )
    for row in claimed:
        assert row.id is not None
        try:
            sender.send(row)
        except MailError as exc:
            with db.session() as session:
                state = subscriptions.mark_failed(
                    session, mail_id=row.id, error=str(exc), retryable=exc.retryable, now=clock()
                )
            if state == "failed":
                report.failed += 1
                log.warning("status page mail %s failed for good: %s", row.id, exc)
            else:
                report.retrying += 1
                log.info("status page mail %s will be retried: %s", row.id, exc)
            continue
        with db.session() as session:
            subscriptions.mark_sent(session, mail_id=row.id, now=clock())
        report.sent += 1
    return report
