"""Outgoing connection reuse: fewer connections, same answers and errors as urllib."""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from playground.emulator import SlackEmulator
from tests.harness import BOT_TOKEN
from web import keepalive


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    connections = 0
    close_after_each = False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def log_message(self, *_args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/limited":
            self._answer(429, b'{"ok": false, "error": "ratelimited"}', {"Retry-After": "7"})
        else:
            self._answer(200, json.dumps({"ok": True, "echo": body.decode()}).encode())
        if self.server.close_after_each:
            self.close_connection = True

    def _answer(self, status: int, body: bytes, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def opener() -> Iterator[tuple[urllib.request.OpenerDirector, keepalive.ConnectionPool]]:
    pool = keepalive.ConnectionPool()
    yield keepalive.build_opener(pool), pool
    pool.close()


def _post(opener: urllib.request.OpenerDirector, url: str, data: bytes) -> Any:
    request = urllib.request.Request(url, data=data, method="POST")
    with opener.open(request, timeout=5) as response:
        return response.status, json.loads(response.read())


def test_sequential_requests_share_one_connection(server: _Server, opener: Any) -> None:
    director, pool = opener
    url = f"http://127.0.0.1:{server.server_port}/api"
    answers = [_post(director, url, f"n={n}".encode()) for n in range(20)]
    assert answers == [(200, {"ok": True, "echo": f"n={n}"}) for n in range(20)]
    assert server.connections == 1 and pool.opened == 1


def test_a_connection_the_server_closed_is_replaced(server: _Server, opener: Any) -> None:
    director, pool = opener
    server.close_after_each = True  # answers with "Connection: close"
    url = f"http://127.0.0.1:{server.server_port}/api"
    assert [_post(director, url, b"x")[0] for _ in range(3)] == [200, 200, 200]
    assert server.connections == 3 and pool.opened == 3


def test_an_idle_connection_dropped_by_the_server_is_retried_once(
    server: _Server, opener: Any
) -> None:
    director, pool = opener
    url = f"http://127.0.0.1:{server.server_port}/api"
    _post(director, url, b"first")
    idle = pool.take(("http", "127.0.0.1", server.server_port))
    assert idle is not None and idle.sock is not None
    import socket

    idle.sock.shutdown(socket.SHUT_RDWR)  # as if the server had timed it out
    pool.give_back(("http", "127.0.0.1", server.server_port), idle)
    assert _post(director, url, b"second") == (200, {"ok": True, "echo": "second"})
    assert pool.opened == 2


class _CountingSocket:
    """A socket that counts its writes (everything else goes to the real one)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.writes: list[int] = []

    def sendall(self, data: bytes) -> None:
        self.writes.append(len(data))
        self.sock.sendall(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


def test_a_request_leaves_in_one_write_without_nagle(server: _Server, opener: Any) -> None:
    """Headers and a small body go out together (http.client writes them separately, and
    the body can then wait for the peer's delayed ACK); the socket does not wait to batch."""
    director, pool = opener
    url = f"http://127.0.0.1:{server.server_port}/api"
    _post(director, url, b"first")
    key = ("http", "127.0.0.1", server.server_port)
    idle = pool.take(key)
    assert idle is not None and idle.sock is not None
    assert idle.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    counting = _CountingSocket(idle.sock)
    idle.sock = counting
    pool.give_back(key, idle)
    body = b"text=" + b"x" * 3000
    assert _post(director, url, body) == (200, {"ok": True, "echo": body.decode()})
    assert len(counting.writes) == 1 and counting.writes[0] > len(body)


def test_http_errors_keep_their_status_headers_and_body(server: _Server, opener: Any) -> None:
    director, _ = opener
    with pytest.raises(urllib.error.HTTPError) as caught:
        _post(director, f"http://127.0.0.1:{server.server_port}/limited", b"")
    assert caught.value.code == 429
    assert caught.value.headers["Retry-After"] == "7"
    assert json.loads(caught.value.read()) == {"ok": False, "error": "ratelimited"}


def test_concurrent_requests_are_all_answered(server: _Server, opener: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    director, pool = opener
    url = f"http://127.0.0.1:{server.server_port}/api"
    with ThreadPoolExecutor(8) as workers:
        answers = list(workers.map(lambda n: _post(director, url, str(n).encode()), range(80)))
    assert [a[1]["echo"] for a in answers] == [str(n) for n in range(80)]
    assert pool.opened <= 8


def test_slack_sdk_clients_use_the_installed_opener(slack: SlackEmulator) -> None:
    """slack_sdk's WebClient reuses connections once the opener is installed."""
    previous = urllib.request._opener  # type: ignore[attr-defined]
    pool = keepalive.install()
    try:
        client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
        for _ in range(5):
            assert client.auth_test()["ok"]
        with pytest.raises(SlackApiError) as caught:
            client.conversations_info(channel="C_NOPE")
        assert caught.value.response["error"] == "channel_not_found"
        assert pool.opened == 1
    finally:
        urllib.request.install_opener(previous)
        pool.close()


def test_a_refused_connection_is_a_urlerror_as_with_urllib(opener: Any) -> None:
    import socket

    director, _ = opener
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(urllib.error.URLError) as caught:
        _post(director, f"http://127.0.0.1:{port}/api", b"")
    assert isinstance(caught.value.reason, ConnectionRefusedError)


def test_a_request_without_a_timeout_reuses_its_connection(
    server: _Server, opener: tuple[urllib.request.OpenerDirector, keepalive.ConnectionPool]
) -> None:
    """`urlopen(url)` with no timeout passes urllib's default-timeout marker, not a number:
    the second such request, on a pooled connection, must not fail on it."""
    open_url, pool = opener
    url = f"http://127.0.0.1:{server.server_address[1]}/echo"
    answers = []
    for n in range(3):
        with open_url.open(urllib.request.Request(url, data=f"{n}".encode())) as response:
            answers.append(json.loads(response.read())["echo"])
    assert answers == ["0", "1", "2"]
    assert pool.opened == 1 and server.connections == 1


def test_the_socket_default_timeout_applies_when_none_is_given(
    server: _Server,
    opener: tuple[urllib.request.OpenerDirector, keepalive.ConnectionPool],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    open_url, pool = opener
    url = f"http://127.0.0.1:{server.server_address[1]}/echo"
    monkeypatch.setattr(socket, "getdefaulttimeout", lambda: 7.5)
    for _ in range(2):
        with open_url.open(urllib.request.Request(url, data=b"x")) as response:
            assert response.status == 200
    (conn,) = pool._idle[("http", "127.0.0.1", server.server_address[1])]
    assert conn.sock is not None and conn.sock.gettimeout() == 7.5
