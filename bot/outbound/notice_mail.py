"""The one e-mail channel: stakeholder notices and status page subscriber mails alike.

`MailChannel` hands an `OutgoingMail` to the one SMTP sender (bot.outbound.smtp) and
reports failure as the senders' interface says (`Retryable` / `Permanent`, bot.core.sending).
Both kinds of mail are composed by their domain with a stable Message-ID per delivery and
the Message-ID of their thread (one thread per incident, or per public incident), and both
are driven by the delivery engine: `NoticeMailSender` for stakeholder notices
(bot.slack.notice_sender), `SubscriberMailSend` for subscriber mails (bot.slack.statuspage).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.core.delivery import Delivered, Failure, Job, Receipt
from bot.core.mail import OutgoingMail
from bot.core.sending import Permanent, Retryable, SendError
from bot.outbound.smtp import MailError, SmtpMailer
from bot.settings import Settings
from bot.stakeholders.mail import compose
from bot.stakeholders.notice import Notice
from bot.statuspage.mail_claims import SubscriberMail


class MailChannel:
    """Sends one composed mail over SMTP; raises Retryable or Permanent when it could not."""

    def __init__(self, settings: Settings, mailer: SmtpMailer | None = None) -> None:
        self.mailer = mailer or SmtpMailer(settings)

    @property
    def configured(self) -> bool:
        """True when SMTP_HOST and SMTP_FROM are set."""
        return self.mailer.configured

    def send(self, mail: OutgoingMail) -> None:
        """Hand the mail to the SMTP server."""
        try:
            self.mailer.send(mail)
        except MailError as exc:
            raise (Retryable if exc.retryable else Permanent)(str(exc)) from exc


class NoticeMailSender:
    """Sends one e-mail notice through the mail channel."""

    def __init__(self, settings: Settings, channel: MailChannel | None = None) -> None:
        self.channel = channel or MailChannel(settings)
        self.sender = settings.smtp_from
        self.templates_dir = settings.stakeholder_templates_dir

    def mail_for(self, notice: Notice) -> OutgoingMail:
        """The mail this notice becomes (the same on every attempt)."""
        return compose(
            key=notice.key,
            recipient=notice.recipient,
            payload=notice.payload,
            group=notice.group,
            quadrant=notice.quadrant,
            sender=self.sender,
            templates_dir=self.templates_dir,
        )

    def send(self, notice: Notice) -> None:
        """Hand the notice's mail to the mail channel."""
        self.channel.send(self.mail_for(notice))


class SubscriberMailSend:
    """The send function of the subscriber mails source: one mail, one outcome.

    An SMTP server that took the message answered; one that did not answer may have taken it
    (`maybe`): the retry carries the same Message-ID, so mail clients show one message.
    """

    def __init__(self, channel: MailChannel) -> None:
        self.channel = channel

    def __call__(
        self,
        job: Job[SubscriberMail],
        clock: Callable[[], datetime],
        renew: Callable[[], bool],
    ) -> Receipt | Failure | None:
        mail = job.item.mail
        try:
            self.channel.send(mail)
        except SendError as exc:
            maybe = Delivered.MAYBE if exc.maybe_sent else Delivered.NO
            return Failure(
                str(exc), maybe, permanent=not exc.retryable, retry_after=exc.retry_after
            )
        return Receipt(clock(), ",".join(mail.to)[:200], mail.message_id)
