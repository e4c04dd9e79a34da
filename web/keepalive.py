"""Outgoing HTTP with connection reuse, for slack_sdk's urllib transport.

slack_sdk's WebClient and WebhookClient (Bolt's `respond`) call `urllib.request.urlopen`,
and urllib opens a new connection for every request and closes it after the answer: a TCP
handshake per Web API call, and against slack.com a TLS handshake too. Installing the
opener from `install()` keeps idle connections in a small pool per host and reuses them;
the answers, errors (`HTTPError` with headers and body) and timeouts stay what urllib gives.

Only plain requests are pooled; a request through an HTTPS proxy tunnel goes the usual way.
"""

from __future__ import annotations

import functools
import http.client
import io
import socket
import ssl
import threading
import urllib.request
from collections import defaultdict
from typing import Any
from urllib.error import URLError
from urllib.response import addinfourl

from storage.answering import ANSWERING

IDLE_PER_HOST = 32  # idle connections kept per (scheme, host, port)
ONE_WRITE_MAX = 64 * 1024  # bytes: a body up to this size leaves with its headers in one write
DEFAULT_TIMEOUT = 30.0  # seconds, for a request that sets none where the socket has none
_RETRYABLE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)

Key = tuple[str, str, int | None]


class ConnectionPool:
    """Idle HTTP(S) connections by (scheme, host, port), shared by every thread."""

    def __init__(self, *, idle_per_host: int = IDLE_PER_HOST) -> None:
        self._idle: dict[Key, list[http.client.HTTPConnection]] = defaultdict(list)
        self._lock = threading.Lock()
        self._limit = idle_per_host
        self.opened = 0  # connections made, for tests and benchmarks

    def take(self, key: Key) -> http.client.HTTPConnection | None:
        """An idle connection to `key`, or None."""
        with self._lock:
            idle = self._idle.get(key)
            return idle.pop() if idle else None

    def give_back(self, key: Key, conn: http.client.HTTPConnection) -> None:
        """Keep `conn` for the next request to `key` (closed when the pool is full)."""
        with self._lock:
            idle = self._idle[key]
            if len(idle) < self._limit:
                idle.append(conn)
                return
        conn.close()

    def count_new(self) -> None:
        with self._lock:
            self.opened += 1

    def close(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, defaultdict(list)
        for conns in idle.values():
            for conn in conns:
                conn.close()


def _headers(req: urllib.request.Request) -> dict[str, str]:
    # As urllib's AbstractHTTPHandler.do_open builds them, without "Connection: close".
    headers = dict(req.unredirected_hdrs)
    headers.update({k: v for k, v in req.headers.items() if k not in headers})
    return {name.title(): value for name, value in headers.items()}


def _seconds(timeout: Any) -> float:
    """The request's timeout in seconds. `urlopen(url)` without one passes urllib's marker
    for "the socket default" (an object, not a number): that is `socket.getdefaulttimeout()`,
    and 30 s where that is None (no limit), as for a request whose timeout is None."""
    if timeout is None or timeout is socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
        timeout = socket.getdefaulttimeout()
    return float(timeout) if timeout is not None else DEFAULT_TIMEOUT


def _send(
    pool: ConnectionPool,
    key: Key,
    req: urllib.request.Request,
    make: Any,
) -> addinfourl:
    ANSWERING.give_way()  # background work waits while Slack waits for an answer
    timeout = _seconds(req.timeout)
    for attempt in range(2):
        conn = pool.take(key) if attempt == 0 else None
        reused = conn is not None
        if conn is None:
            conn = make(timeout)
            pool.count_new()
        elif conn.sock is not None:
            conn.sock.settimeout(timeout)
        sent = False
        try:
            conn.request(
                req.get_method(),
                req.selector,
                req.data,
                _headers(req),
                encode_chunked=req.has_header("Transfer-encoding"),
            )
            sent = True
            response = conn.getresponse()
            body = response.read()
        except BaseException as error:
            conn.close()
            if reused and isinstance(error, _RETRYABLE):
                continue  # the server closed the idle connection: try once on a new one
            if isinstance(error, OSError) and not sent:
                raise URLError(error) from error  # as urllib does (slack_sdk retries these)
            raise
        if response.will_close:
            conn.close()
        else:
            pool.give_back(key, conn)
        result = addinfourl(io.BytesIO(body), response.msg, req.get_full_url(), response.status)
        result.msg = response.reason  # type: ignore[attr-defined]  # read by HTTPErrorProcessor
        return result
    raise AssertionError("unreachable")


class _OneWrite:
    """http.client writes a request's headers and its body with two system calls (and, with
    Nagle's algorithm on, the body can wait for the peer's delayed ACK). A Web API call is a
    small form or JSON body: it leaves with its headers in one write, on a TCP_NODELAY socket."""

    sock: socket.socket | None
    _buffer: list[bytes]

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        if self.sock is not None and self.sock.family in (socket.AF_INET, socket.AF_INET6):
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _send_output(self, message_body: Any = None, encode_chunked: bool = False) -> None:
        if (
            isinstance(message_body, bytes)
            and len(message_body) <= ONE_WRITE_MAX
            and not encode_chunked
        ):
            self._buffer.extend((b"", b""))
            request = b"\r\n".join(self._buffer) + message_body
            del self._buffer[:]
            self.send(request)  # type: ignore[attr-defined]
            return
        super()._send_output(message_body, encode_chunked)  # type: ignore[misc]


class _HTTPConnection(_OneWrite, http.client.HTTPConnection):
    pass


class _HTTPSConnection(_OneWrite, http.client.HTTPSConnection):
    pass


class KeepAliveHTTPHandler(urllib.request.HTTPHandler):
    """http:// through the pool."""

    def __init__(self, pool: ConnectionPool) -> None:
        super().__init__()
        self.pool = pool

    def http_open(self, req: urllib.request.Request) -> Any:
        parsed = http.client.HTTPConnection(req.host)  # splits "host:port" as http.client does
        host, port = parsed.host, parsed.port

        def make(timeout: float) -> http.client.HTTPConnection:
            return _HTTPConnection(host, port, timeout=timeout)

        return _send(self.pool, ("http", host, port), req, make)


@functools.cache
def default_context() -> ssl.SSLContext:
    """The system's default TLS context, made once (loading the CA store takes ~50 ms)."""
    return ssl.create_default_context()


class KeepAliveHTTPSHandler(urllib.request.HTTPSHandler):
    """https:// through the pool (proxy tunnels go the usual way)."""

    def __init__(self, pool: ConnectionPool, context: ssl.SSLContext | None = None) -> None:
        self.context = context or default_context()
        super().__init__(context=self.context)
        self.pool = pool

    def https_open(self, req: urllib.request.Request) -> Any:
        if getattr(req, "_tunnel_host", None):
            return super().https_open(req)
        parsed = http.client.HTTPSConnection(req.host, context=self.context)
        host, port = parsed.host, parsed.port

        def make(timeout: float) -> http.client.HTTPConnection:
            return _HTTPSConnection(host, port, timeout=timeout, context=self.context)

        return _send(self.pool, ("https", host, port), req, make)


def build_opener(pool: ConnectionPool) -> urllib.request.OpenerDirector:
    """An opener like urllib's default one, with pooled HTTP and HTTPS."""
    return urllib.request.build_opener(KeepAliveHTTPHandler(pool), KeepAliveHTTPSHandler(pool))


def install() -> ConnectionPool:
    """Make every `urlopen` of this process (slack_sdk's included) reuse connections."""
    pool = ConnectionPool()
    urllib.request.install_opener(build_opener(pool))
    return pool
