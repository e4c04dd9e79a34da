"""Fake SMS (Twilio's Messages API) and social (Mastodon's statuses API) endpoints.

One loopback HTTP server; point TWILIO_API_URL and MASTODON_API_URL at `url`. It checks the
credentials it was given, answers the documented success shapes and keeps what was sent, for
the playground's panels. (The tests' richer fakes with faults are tests/fake_providers.py.)
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "playground-twilio-token"
TWILIO_FROM = "+15550000000"
MASTODON_TOKEN = "playground-mastodon-token"


class FakeProviders:
    """Captures SMS and social posts; `texts` and `posts` are newest last."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.texts: list[dict[str, Any]] = []
        self.posts: list[dict[str, Any]] = []
        self._by_key: dict[str, dict[str, Any]] = {}
        fakes = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8", "replace")
                form = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
                status, answer = fakes.handle(self.path, dict(self.headers), form)
                body = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeProviders:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def handle(
        self, path: str, headers: dict[str, str], form: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        """(status, JSON answer) for one request."""
        if path == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json":
            return self._twilio(headers, form)
        if path == "/api/v1/statuses":
            return self._mastodon(headers, form)
        return 404, {"error": "not found"}

    def _twilio(self, headers: dict[str, str], form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        expected = base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
        if headers.get("Authorization") != f"Basic {expected}":
            return 401, {"code": 20003, "message": "Authenticate", "status": 401}
        if not form.get("To") or not form.get("Body"):
            return 400, {
                "code": 21604,
                "message": "A 'To' and a 'Body' are required",
                "status": 400,
            }
        text = {
            "id": next(self._ids),
            "at": time.time(),
            "to": form["To"],
            "from": form.get("From", ""),
            "body": form["Body"],
        }
        with self._lock:
            self.texts.append(text)
        sid = "SM" + secrets.token_hex(16)
        return 201, {"sid": sid, "status": "queued", "to": form["To"], "body": form["Body"]}

    def _mastodon(
        self, headers: dict[str, str], form: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        if headers.get("Authorization") != f"Bearer {MASTODON_TOKEN}":
            return 401, {"error": "The access token is invalid"}
        if not form.get("status"):
            return 422, {"error": "Validation failed: Text can't be blank"}
        key = headers.get("Idempotency-Key") or ""
        with self._lock:
            if key and key in self._by_key:
                return 200, self._by_key[key]
            post = {
                "id": str(next(self._ids)),
                "at": time.time(),
                "content": form["status"],
                "visibility": form.get("visibility", "public"),
            }
            self.posts.append(post)
            if key:
                self._by_key[key] = post
        return 200, {**post, "url": f"{self.url}/@status/{post['id']}"}

    def all_texts(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(t) for t in self.texts]

    def all_posts(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(p) for p in self.posts]
