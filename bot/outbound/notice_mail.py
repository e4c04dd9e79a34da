"""Stakeholder notices by e-mail: compose from the templates, hand over to SMTP."""

from __future__ import annotations

from bot.core.mail import OutgoingMail
from bot.core.sending import Permanent, Retryable
from bot.outbound.smtp import MailError, SmtpMailer
from bot.settings import Settings
from bot.stakeholders.mail import compose
from bot.stakeholders.notice import Notice


class NoticeMailSender:
    """Sends one e-mail notice; raises Retryable or Permanent when it could not."""

    def __init__(self, settings: Settings, mailer: SmtpMailer | None = None) -> None:
        self.mailer = mailer or SmtpMailer(settings)
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
        """Hand the mail to the SMTP server."""
        mail = self.mail_for(notice)
        try:
            self.mailer.send(mail)
        except MailError as exc:
            raise (Retryable if exc.retryable else Permanent)(str(exc)) from exc
