"""An e-mail as the domain composes it; sending is the outbound side's job (bot.outbound.smtp)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class OutgoingMail:
    """One message to one or more recipients.

    `message_id` is stable per delivery (so a retry after a crash is recognisably the same
    mail); `thread_id` is the Message-ID of the first mail about the same subject (e.g. one
    incident): mails carrying it get In-Reply-To/References headers, so mail clients show
    them as one thread.
    """

    to: tuple[str, ...]
    subject: str
    text: str
    message_id: str
    html: str | None = None
    thread_id: str | None = None
    headers: tuple[tuple[str, str], ...] = field(default=())
