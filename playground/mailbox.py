"""The playground's mailbox: an SMTP server on loopback (aiosmtpd) that keeps what it accepts."""

from __future__ import annotations

import email
import email.policy
import itertools
import logging
import socket
import threading
import time
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    return part.get_content() if part is not None else ""


class Mailbox:
    """Accepts every message (no TLS, no AUTH) and keeps it, newest last."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = free_port(host)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.messages: list[dict[str, Any]] = []
        self._controller = Controller(self, hostname=host, port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self._lock:
            self.messages.append(
                {
                    "id": next(self._ids),
                    "at": time.time(),
                    "from": str(envelope.mail_from),
                    "to": list(envelope.rcpt_tos),
                    "subject": str(parsed.get("Subject", "")),
                    "body": _body(parsed),
                }
            )
        return "250 OK"

    def start(self) -> Mailbox:
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # a line per SMTP command
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(m) for m in self.messages]
