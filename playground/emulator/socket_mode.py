"""Socket Mode: ``apps.connections.open`` and the WebSocket that Slack sends envelopes over.

An app opens a connection with its app-level token (``xapp-...``): ``apps.connections.open``
answers a single-use ``ws://.../link/?ticket=...`` URL; the WebSocket handshake (RFC 6455)
on that URL is answered ``101``, then ``hello``. Tests send envelopes with :meth:`SocketHub.send`
(``events_api``, ``slash_commands``, ``interactive``) and wait for the app's acknowledgement
with :meth:`SocketHub.wait_ack`; :meth:`SocketHub.disconnect` sends ``disconnect`` (Slack's
``refresh_requested``, ``warning``, ...), after which the app must open a new connection.

Frames follow RFC 6455: the client's are masked (an unmasked one closes the connection with
1002, as Slack does), the server's are not; pings are answered with pongs, fragments joined.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import secrets
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from .errors import SlackError

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0
TICKET_TTL = 30.0  # seconds a connection URL stays usable


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value for a client's ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def frame(opcode: int, data: bytes) -> bytes:
    """One unmasked, final frame (what a server sends)."""
    head = bytes([0x80 | opcode])
    n = len(data)
    if n <= 125:
        head += bytes([n])
    elif n <= 0xFFFF:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + data


class ProtocolError(Exception):
    """The client broke RFC 6455 (close code 1002)."""


def read_frame(rfile: BinaryIO) -> tuple[bool, int, bytes] | None:
    """(fin, opcode, unmasked payload) of the next client frame; None at end of stream."""
    head = rfile.read(2)
    if len(head) < 2:
        return None
    fin, opcode = bool(head[0] & 0x80), head[0] & 0x0F
    masked, length = bool(head[1] & 0x80), head[1] & 0x7F
    if length == 126:
        length = struct.unpack("!H", rfile.read(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", rfile.read(8))[0]
    if not masked:
        raise ProtocolError("client frames must be masked")
    mask = rfile.read(4)
    data = rfile.read(length)
    if len(mask) < 4 or len(data) < length:
        return None
    return fin, opcode, _unmask(data, mask)


def _unmask(data: bytes, mask: bytes) -> bytes:
    n = len(data)
    if n == 0:
        return b""
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


@dataclass
class Envelope:
    """An envelope sent to the app, and its acknowledgement once it came."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    sent_at: float
    connection: int
    ack: dict[str, Any] | None = None
    acked_at: float | None = None
    acks: int = 0


@dataclass
class Connection:
    """One open WebSocket."""

    number: int
    sock: socket.socket
    wfile: BinaryIO
    opened_at: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    closed: bool = False

    def send(self, opcode: int, data: bytes) -> None:
        with self.lock:
            if self.closed:
                raise ConnectionError("the WebSocket is closed")
            self.wfile.write(frame(opcode, data))
            self.wfile.flush()

    def send_json(self, data: dict[str, Any]) -> None:
        self.send(TEXT, json.dumps(data).encode())


class SocketHub:
    """The emulator's Socket Mode side: tickets, connections, envelopes and their acks."""

    def __init__(self, app_id: str) -> None:
        self.app_id = app_id
        self._lock = threading.Condition()
        self.reset()

    def reset(self) -> None:
        """Close every connection; forget tickets, envelopes and counts."""
        with self._lock:
            for conn in getattr(self, "connections", []):
                self._close(conn)
            self.tickets: dict[str, float] = {}
            self.connections: list[Connection] = []
            self.envelopes: dict[str, Envelope] = {}
            self.opened = 0  # connections ever opened
            self.protocol_errors: list[str] = []
            self._lock.notify_all()

    # -- apps.connections.open ------------------------------------------------------------

    def new_url(self, base_url: str) -> str:
        """A single-use WebSocket URL for apps.connections.open."""
        ticket = uuid.uuid4().hex
        with self._lock:
            self.tickets[ticket] = time.time()
        host = base_url.split("://", 1)[1]
        return f"ws://{host}/link/?ticket={ticket}&app_id={self.app_id}"

    # -- the WebSocket ----------------------------------------------------------------------

    def serve(
        self, sock: socket.socket, rfile: BinaryIO, wfile: BinaryIO, query: str, key: str
    ) -> None:
        """Handshake, hello, then read the client's frames until the connection ends."""
        ticket = dict(part.split("=", 1) for part in query.split("&") if "=" in part).get(
            "ticket", ""
        )
        with self._lock:
            issued = self.tickets.pop(ticket, None)
        if issued is None or time.time() - issued > TICKET_TTL or not key:
            wfile.write(
                b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )
            wfile.flush()
            return
        wfile.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n".encode()
        )
        wfile.flush()
        sock.settimeout(None)
        with self._lock:
            self.opened += 1
            conn = Connection(self.opened, sock, wfile, time.time())
            self.connections.append(conn)
            live = len([c for c in self.connections if not c.closed])
            self._lock.notify_all()
        conn.send_json(
            {
                "type": "hello",
                "num_connections": live,
                "debug_info": {
                    "host": "emulator",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": self.app_id},
            }
        )
        try:
            self._read(conn, rfile)
        finally:
            with self._lock:
                self._close(conn)
                self._lock.notify_all()

    def _read(self, conn: Connection, rfile: BinaryIO) -> None:
        message = b""
        while not conn.closed:
            try:
                got = read_frame(rfile)
            except ProtocolError as exc:
                self.protocol_errors.append(str(exc))
                conn.send(CLOSE, struct.pack("!H", 1002) + str(exc).encode())
                return
            except OSError:
                return
            if got is None:
                return
            fin, opcode, data = got
            if opcode == PING:
                conn.send(PONG, data)
            elif opcode == CLOSE:
                with contextlib.suppress(OSError):
                    conn.send(CLOSE, data[:2])
                return
            elif opcode in (TEXT, CONTINUATION):
                message += data
                if fin:
                    self._received(message)
                    message = b""

    def _received(self, raw: bytes) -> None:
        try:
            data = json.loads(raw)
        except ValueError:
            self.protocol_errors.append(f"not JSON: {raw[:80]!r}")
            return
        envelope_id = data.get("envelope_id") if isinstance(data, dict) else None
        with self._lock:
            envelope = self.envelopes.get(str(envelope_id))
            if envelope is None:
                self.protocol_errors.append(f"ack of an unknown envelope: {envelope_id}")
                return
            envelope.acks += 1
            if envelope.ack is None:
                envelope.ack = data.get("payload") or {}
                envelope.acked_at = time.time()
            self._lock.notify_all()

    def _close(self, conn: Connection) -> None:
        if conn.closed:
            return
        conn.closed = True
        with contextlib.suppress(OSError):
            conn.sock.shutdown(socket.SHUT_RDWR)

    # -- what tests do ----------------------------------------------------------------------

    def live(self) -> list[Connection]:
        with self._lock:
            return [c for c in self.connections if not c.closed]

    def wait_connected(self, *, opened: int = 1, timeout: float = 10.0) -> Connection:
        """Wait until `opened` connections were ever opened and one is live; return the newest."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                live = [c for c in self.connections if not c.closed]
                if self.opened >= opened and live:
                    return live[-1]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no Socket Mode connection (opened so far: {self.opened})")
                self._lock.wait(left)

    def send(
        self,
        type: str,
        payload: dict[str, Any],
        *,
        retry_attempt: int = 0,
        retry_reason: str = "",
        envelope_id: str | None = None,
    ) -> str:
        """Send an envelope over the newest live connection; returns its envelope id."""
        conn = self.wait_connected(timeout=10)
        envelope_id = envelope_id or str(uuid.uuid4())
        message: dict[str, Any] = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": type,
            "accepts_response_payload": type != "events_api",
        }
        if type == "events_api":
            message.update(retry_attempt=retry_attempt, retry_reason=retry_reason)
        with self._lock:
            self.envelopes.setdefault(
                envelope_id, Envelope(envelope_id, type, payload, time.time(), conn.number)
            )
        conn.send_json(message)
        return envelope_id

    def wait_ack(self, envelope_id: str, timeout: float = 10.0) -> Envelope | None:
        """The envelope once acknowledged; None if no ack came within `timeout`."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                envelope = self.envelopes[envelope_id]
                if envelope.ack is not None:
                    return envelope
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._lock.wait(left)

    def disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the app to reconnect, as Slack does before it recycles a connection."""
        for conn in self.live():
            conn.send_json(
                {"type": "disconnect", "reason": reason, "debug_info": {"host": "emulator"}}
            )

    def drop(self) -> None:
        """Close every connection abruptly (a network failure)."""
        with self._lock:
            for conn in self.connections:
                self._close(conn)
            self._lock.notify_all()


def open_connection(
    hub: SocketHub, base_url: str, token: str | None, app_tokens: set[str]
) -> dict[str, Any]:
    """``apps.connections.open``: needs an app-level token."""
    if not token:
        raise SlackError("not_authed")
    if not token.startswith("xapp-"):
        raise SlackError("not_allowed_token_type")
    if token not in app_tokens:
        raise SlackError("invalid_auth")
    return {"url": hub.new_url(base_url)}


def new_app_token() -> str:
    return f"xapp-1-A0APP00001-{secrets.randbelow(10**12)}-{secrets.token_hex(16)}"
