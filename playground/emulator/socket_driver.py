"""``SocketModeDriver``: what :class:`SlackDriver` sends, as Socket Mode envelopes instead.

Slash commands go out as ``slash_commands`` envelopes (the form's fields as the payload),
interactions as ``interactive`` (the ``payload`` JSON) and events as ``events_api`` (the
``event_callback`` body; a retry carries ``retry_attempt``), over the emulator's WebSocket to
the app connected to it. The result is the app's acknowledgement: status 200 with the ack's
``payload`` as JSON (a view submission's ``response_action``), or 504 when no ack came.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qsl

from .driver import SlackDriver
from .results import DriverResult
from .server import SlackEmulator

NO_ACK = 504


class SocketModeDriver(SlackDriver):
    """Plays Slack's part towards an app connected in Socket Mode to ``emulator``."""

    def __init__(self, emulator: SlackEmulator, *, timeout: float = 10.0) -> None:
        super().__init__("socket-mode://emulator", "", emulator, timeout=timeout)
        self.hub = emulator.sockets

    def envelope(
        self, body: str, content_type: str, headers: dict[str, str]
    ) -> tuple[str, dict[str, Any], int, str]:
        """(type, payload, retry_attempt, retry_reason) of the envelope for an HTTP body."""
        if content_type.split(";")[0].strip() == "application/json":
            payload = json.loads(body)
            if payload.get("type") != "event_callback":
                raise ValueError(f"{payload.get('type')} has no Socket Mode envelope")
            retry = int(headers.get("X-Slack-Retry-Num", "0"))
            return (
                "events_api",
                payload,
                retry,
                headers.get("X-Slack-Retry-Reason", "") if retry else "",
            )
        fields = dict(parse_qsl(body, keep_blank_values=True))
        if "payload" in fields:
            return "interactive", json.loads(fields["payload"]), 0, ""
        return "slash_commands", fields, 0, ""

    def send(
        self,
        body: bytes | str,
        content_type: str,
        *,
        url: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> DriverResult:
        """Send the envelope and wait for its acknowledgement."""
        text = body.decode() if isinstance(body, bytes) else body
        kind, payload, retry, reason = self.envelope(text, content_type, headers or {})
        started = time.perf_counter()
        envelope_id = self.hub.send(kind, payload, retry_attempt=retry, retry_reason=reason)
        envelope = self.hub.wait_ack(envelope_id, timeout=self.options.timeout)
        elapsed = time.perf_counter() - started
        if envelope is None:
            result = DriverResult(NO_ACK, {}, "", None, elapsed)
        else:
            ack = envelope.ack or None
            result = DriverResult(200, {}, json.dumps(ack) if ack else "", ack, elapsed)
        with self._lock:
            self._last = result
        return result
