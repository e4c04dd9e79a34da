"""A webhook receiver for tests that verifies signatures the way a real receiver should.

It recomputes `v1=HMAC-SHA256(secret, "<X-Incident-Timestamp>.<body>")`, compares in
constant time, refuses timestamps more than five minutes away, and answers 401 to anything
that fails; accepted deliveries are kept (a repeated X-Incident-Delivery id is counted but
not kept twice). `answer_with(status, times)` makes it fail on purpose.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOLERANCE_SECONDS = 300


@dataclass
class Delivery:
    """One accepted, verified delivery."""

    delivery_id: str
    event: str
    body: dict[str, Any]
    timestamp: int


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """True when `signature` is ours for this timestamp and body."""
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest("v1=" + expected.hexdigest(), signature)


class WebhookReceiver:
    """Loopback HTTP server at `url`; `deliveries` are the verified ones."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.lock = threading.Lock()
        self.deliveries: list[Delivery] = []
        self.refused: list[str] = []
        self.attempts = 0
        self.duplicates = 0
        self._answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                status = receiver._receive(self)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hooks/incidents"

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer_with(self, status: int, times: int = 1) -> None:
        """Answer the next `times` valid deliveries with `status` instead of 204."""
        with self.lock:
            self._answers.extend([status] * times)

    def _receive(self, request: BaseHTTPRequestHandler) -> int:
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        timestamp = request.headers.get("X-Incident-Timestamp") or ""
        signature = request.headers.get("X-Incident-Signature") or ""
        with self.lock:
            self.attempts += 1
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
            with self.lock:
                self.refused.append("stale or missing timestamp")
            return 401
        if not verify(self.secret, timestamp, body, signature):
            with self.lock:
                self.refused.append("bad signature")
            return 401
        with self.lock:
            if self._answers:
                return self._answers.pop(0)
            delivery_id = request.headers.get("X-Incident-Delivery") or ""
            if any(d.delivery_id == delivery_id for d in self.deliveries):
                self.duplicates += 1
                return 204
            self.deliveries.append(
                Delivery(
                    delivery_id=delivery_id,
                    event=request.headers.get("X-Incident-Event") or "",
                    body=json.loads(body),
                    timestamp=int(timestamp),
                )
            )
        return 204
