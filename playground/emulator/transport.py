"""HTTP plumbing: a ``ThreadingHTTPServer`` handing each request to the emulator as data."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass
class HttpRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-cased names
    body: bytes


@dataclass
class HttpResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: Any, headers: dict[str, str] | None = None) -> HttpResponse:
        body = data if isinstance(data, bytes) else json.dumps(data).encode()
        all_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        return cls(status, body, all_headers)

    @classmethod
    def text(cls, status: int, text: str, content_type: str = "text/plain") -> HttpResponse:
        return cls(status, text.encode(), {"Content-Type": f"{content_type}; charset=utf-8"})


App = Callable[[HttpRequest], HttpResponse]
# Takes over a connection that asked to become a WebSocket: (socket, rfile, wfile, request).
Upgrade = Callable[[Any, Any, Any, HttpRequest], None]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: EmulatorServer

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        url = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        upgrade = self.server.upgrade
        if upgrade is not None and headers.get("upgrade", "").lower() == "websocket":
            self.close_connection = True
            upgrade(
                self.connection,
                self.rfile,
                self.wfile,
                HttpRequest(self.command, url.path, url.query, headers, b""),
            )
            return
        body = self._read_body()
        request = HttpRequest(self.command, url.path, url.query, headers, body)
        try:
            response = self.server.app(request)
        except Exception:  # a bug in the emulator: answer like Slack's worst day, and say so
            traceback.print_exc(file=sys.stderr)
            response = HttpResponse.json(500, {"ok": False, "error": "fatal_error"})
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):  # the client died (a killed app)
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_HEAD = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass


class EmulatorServer(ThreadingHTTPServer):
    """One thread per connection, daemonic, with a backlog big enough for bursts of clients."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], app: App, upgrade: Upgrade | None = None) -> None:
        super().__init__(address, _Handler)
        self.app = app
        self.upgrade = upgrade
