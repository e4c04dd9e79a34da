"""Socket Mode with the HTTP endpoint's guarantees: an envelope is acknowledged over the
WebSocket only once what it asked for is durable.

Bolt's own SocketModeHandler dispatches first and acknowledges after; here each envelope is
kept in the inbox first (web/intake.py), keyed by the event id or a hash of its payload. An
Events API envelope is acknowledged as soon as it is kept, and processed after; a command or
an interaction when its listener acknowledges (with the listener's answer, e.g. a view
submission's errors). An envelope that cannot be kept is not acknowledged: Slack sends it
again (events) or tells the user it failed (commands, interactions).
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from slack_bolt import BoltRequest, BoltResponse
from slack_sdk import WebClient
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.core import inbox
from web.intake import Intake
from web.intake_work import Kept

log = logging.getLogger(__name__)


def _headers(request: SocketModeRequest) -> dict[str, str | Sequence[str]]:
    headers: dict[str, str | Sequence[str]] = {"content-type": "application/json"}
    if request.retry_attempt is not None:
        headers["x-slack-retry-num"] = str(request.retry_attempt)
    if request.retry_reason:
        headers["x-slack-retry-reason"] = request.retry_reason
    return headers


def _ack_payload(response: BoltResponse) -> dict[str, Any] | None:
    """What goes back with the acknowledgement (a view submission's response_action, ...)."""
    if response.status != 200 or not response.body:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    if content_type.startswith("application/json"):
        data = json.loads(response.body)
        return data if isinstance(data, dict) else None
    return {"text": response.body}


class DurableSocketMode:
    """A Socket Mode connection whose envelopes go through the inbox."""

    def __init__(
        self, *, app_token: str, web_client: WebClient, intake: Intake, concurrency: int = 32
    ) -> None:
        self.intake = intake
        self.client = SocketModeClient(
            app_token=app_token, web_client=web_client, concurrency=concurrency
        )
        self.client.socket_mode_request_listeners.append(self._on_request)

    def connect(self) -> None:
        """Open the WebSocket (apps.connections.open, then the handshake)."""
        self.client.connect()

    def close(self) -> None:
        """Close the WebSocket; envelopes not acknowledged are sent again by Slack."""
        self.client.auto_reconnect_enabled = False
        session = self.client.current_session
        if session is not None and session.sock is not None:
            # Wakes the receiving thread now (it reads with a 3 s timeout, holding a lock
            # that closing needs).
            with contextlib.suppress(OSError):
                session.sock.shutdown(socket.SHUT_RDWR)
        self.client.close()

    def _ack(self, request: SocketModeRequest, payload: dict[str, Any] | None = None) -> None:
        self.client.send_socket_mode_response(
            SocketModeResponse(envelope_id=request.envelope_id, payload=payload)
        )

    def _on_request(self, _client: Any, request: SocketModeRequest) -> None:
        if request.type not in inbox.KINDS:
            log.info("ignored a Socket Mode envelope of type %s", request.type)
            self._ack(request)
            return
        payload = request.payload
        text = json.dumps(payload, separators=(",", ":"), sort_keys=True)
        event_id = payload.get("event_id") if request.type == "events_api" else None
        key = inbox.key_for(
            event_id=event_id if isinstance(event_id, str) else None, body=text.encode()
        )
        bolt_request = BoltRequest(body=payload, mode="socket_mode", headers=_headers(request))
        kept = Kept(request.type, key, "socket_mode", "application/json", text)
        try:
            if request.type == "events_api":
                row_id = self.intake.store(**asdict(kept))
                self._ack(request)
                if row_id is not None:
                    self.intake.dispatch(self.intake.work_of(row_id), bolt_request)
                return
            response = self.intake.accept(kept, bolt_request)
        except Exception as exc:  # not kept, or not processed: no acknowledgement
            log.error("could not keep or process a Socket Mode %s envelope: %s", request.type, exc)
            return
        if response.status != 200:  # as Bolt's handler: no ack, Slack tells the user it failed
            log.info("no ack for a %s envelope: %s", request.type, response.status)
            return
        self._ack(request, _ack_payload(response))
