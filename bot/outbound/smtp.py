"""Sending e-mail over SMTP: STARTTLS (default), implicit TLS or plain, with AUTH when set."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from bot.core.mail import OutgoingMail
from bot.settings import Settings

TIMEOUT_SECONDS = 20.0


class MailError(Exception):
    """Sending failed; `retryable` says whether trying again later may succeed."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def build_message(mail: OutgoingMail, sender: str) -> EmailMessage:
    """The MIME message: text, plus an HTML alternative when there is one."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(mail.to)
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = mail.message_id
    if mail.thread_id and mail.thread_id != mail.message_id:
        message["In-Reply-To"] = mail.thread_id
        message["References"] = mail.thread_id
    for name, value in mail.headers:
        message[name] = value
    message.set_content(mail.text)
    if mail.html is not None:
        message.add_alternative(mail.html, subtype="html")
    return message


class SmtpMailer:
    """Sends one OutgoingMail per call over a fresh connection (deliveries are infrequent)."""

    def __init__(self, settings: Settings) -> None:
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.tls = settings.smtp_tls
        self.username = settings.smtp_username
        self.password = settings.smtp_password
        self.sender = settings.smtp_from
        self.ca_file = settings.smtp_ca_file
        self._context: ssl.SSLContext | None = None

    @property
    def context(self) -> ssl.SSLContext:
        """The TLS context, made at the first connection (loading the CA store takes ~50 ms,
        and most bots send no mail for a long while after they start)."""
        if self._context is None:
            context = ssl.create_default_context()
            if self.ca_file:
                context.load_verify_locations(cafile=self.ca_file)
            self._context = context
        return self._context

    @property
    def configured(self) -> bool:
        """True when SMTP_HOST and SMTP_FROM are set."""
        return bool(self.host and self.sender)

    def _connect(self) -> smtplib.SMTP:
        if self.tls == "ssl":
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=TIMEOUT_SECONDS, context=self.context
            )
        client = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_SECONDS)
        if self.tls == "starttls":
            client.starttls(context=self.context)
        return client

    def send(self, mail: OutgoingMail) -> None:
        """Send `mail`; raise MailError(retryable=...) when it could not be handed over."""
        if not self.configured:
            raise MailError("SMTP_HOST and SMTP_FROM are not set", retryable=False)
        message = build_message(mail, self.sender)
        try:
            with self._connect() as client:
                if self.username:
                    client.login(self.username, self.password)
                refused = client.send_message(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise MailError(f"SMTP login refused: {exc.smtp_code}", retryable=False) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            codes = {code for code, _ in exc.recipients.values()}
            raise MailError(
                f"every recipient refused: {sorted(codes)}",
                retryable=all(400 <= code < 500 for code in codes),
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise MailError(
                f"SMTP error {exc.smtp_code}", retryable=400 <= exc.smtp_code < 500
            ) from exc
        except ssl.SSLCertVerificationError as exc:
            raise MailError(
                f"SMTP certificate not trusted: {exc.verify_message}", retryable=False
            ) from exc
        except (TimeoutError, OSError, smtplib.SMTPException) as exc:
            raise MailError(f"SMTP server unreachable: {exc}", retryable=True) from exc
        if refused:
            raise MailError(f"refused recipients: {sorted(refused)}", retryable=False)
