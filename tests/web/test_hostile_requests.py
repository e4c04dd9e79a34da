"""POST /slack/events against hostile traffic, through the real server.

Nothing is parsed before the signature is checked; bodies are bounded in size and time;
malformed input gets 400 and one log line, never a traceback; requests for another
workspace or app are refused.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from urllib.parse import quote, urlencode

import httpx
import pytest

from playground.emulator import SlackDriver, SlackEmulator
from tests.conftest import Workspace
from tests.harness import SIGNING_SECRET, RunningBot, response_to
from tests.processes import StartBot, bot_processes  # noqa: F401
from tests.scenarios import inbox_rows
from web.slack_request import MAX_DEPTH

pytestmark = pytest.mark.scenario

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def refusals(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[logging.LogRecord]]]:
    """The log records of refused requests; the test fails if anything logged a traceback."""
    caplog.set_level(logging.INFO)

    def refused() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.getMessage().startswith("refused a request")]

    yield refused
    noisy = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert noisy == [], f"tracebacks in the log: {[r.getMessage() for r in noisy]}"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def _raw(port: int, data: bytes, *, wait: float = 5.0) -> tuple[bytes, float]:
    """Send raw bytes; return what the server answered before closing, and how long it took."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(data)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return received, time.monotonic() - started


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe\x00garbage", b'{"type": "event_callback", "event": ', b"[" * 200_000],
    ids=["binary", "truncated", "deep"],
)
def test_unsigned_junk_is_refused_before_parsing(
    bot: RunningBot,
    slack: SlackEmulator,
    refusals: Callable[[], list[logging.LogRecord]],
    body: bytes,
) -> None:
    slack.clear_calls()
    response = httpx.post(bot.events_url, content=body, headers={"content-type": JSON})
    assert response.status_code == 401
    assert [r.getMessage().split(": ", 1)[1] for r in refusals()] == ["401 unsigned request"]
    assert slack.calls == [] and inbox_rows(bot) == []


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"\xff\xfe\x00garbage", JSON, "body is not UTF-8"),
        (b'{"type": "event_callback", "event": ', JSON, "body is not JSON"),
        (b"[1, 2]", JSON, "body is not a Slack payload"),
        (b'{"type": "mystery"}', JSON, "unknown request type 'mystery'"),
        (b'{"type": "event_callback", "event": {}}', JSON, "without event or event_id"),
        (_deep(200_000).encode(), JSON, "body nested too deeply"),
        (json.dumps({"type": "x", "a": json.loads(_deep(MAX_DEPTH))}).encode(), JSON, "deeply"),
        (b"hello", "text/plain", "unsupported content type"),
        (b"a=1&b=2", FORM, "neither a command nor an interaction"),
        (b"payload=%7Bnot", FORM, "payload is not JSON"),
        (("payload=" + quote(_deep(100_000))).encode(), FORM, "payload nested too deeply"),
        ("&".join(f"f{n}=1" for n in range(500)).encode(), FORM, "too many form fields"),
    ],
    ids=[
        "binary",
        "truncated",
        "array",
        "unknown-type",
        "no-event-id",
        "deep-200k",
        "deep-65",
        "text",
        "empty-form",
        "bad-payload",
        "deep-payload",
        "many-fields",
    ],
)
def test_signed_malformed_bodies_get_400_and_one_log_line(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    refusals: Callable[[], list[logging.LogRecord]],
    body: bytes,
    content_type: str,
    reason: str,
) -> None:
    slack.clear_calls()
    result = driver.send(body, content_type)
    assert result.status == 400
    assert reason in result.body
    [line] = refusals()
    assert "400" in line.getMessage() and reason in line.getMessage()
    assert slack.calls == [] and inbox_rows(bot) == []


def test_a_payload_nested_as_deep_as_allowed_still_works(
    driver: SlackDriver, workspace: Workspace
) -> None:
    nested = json.loads(_deep(MAX_DEPTH - 3))  # inside a view: a few levels are the envelope
    view = {"id": "V1", "callback_id": "unknown", "state": {"values": {}}, "junk": nested}
    payload = {
        "type": "view_submission",
        "team": {"id": driver.team_id},
        "user": {"id": workspace.alice},
        "api_app_id": driver.api_app_id,
        "view": view,
    }
    result = driver.send(urlencode({"payload": json.dumps(payload)}), FORM)
    assert result.status != 400


def test_a_declared_size_over_the_limit_is_refused_before_the_body(
    bot: RunningBot, refusals: Callable[[], list[logging.LogRecord]]
) -> None:
    head = (
        "POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
        f"Content-Length: {50 * 1024 * 1024}\r\n\r\n"
    ).encode()
    answer, took = _raw(bot.port, head + b"{")  # then never sends the 50 MB
    assert answer.startswith(b"HTTP/1.1 413") and took < 2
    assert [r.getMessage().split(": ", 1)[1] for r in refusals()] == ["413 body over 1048576 bytes"]


def test_a_body_without_a_length_is_cut_off_at_the_limit(
    bot: RunningBot, refusals: Callable[[], list[logging.LogRecord]]
) -> None:
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        for _ in range(50):  # 50 x 64 KB = 3.2 MB, chunked (no Content-Length)
            sent += 65536
            yield b" " * 65536

    try:
        response = httpx.post(bot.events_url, content=chunks(), headers={"content-type": JSON})
        status = response.status_code
    except httpx.TransportError:  # the server may close before the client stops writing
        status = 413
    assert status == 413
    assert "413 body over" in refusals()[0].getMessage()


def test_the_size_limit_is_a_setting(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace
) -> None:
    bot = start_bot(request_max_bytes=2048)
    driver = bot.driver(slack)
    small = driver.slash_command("help", user=workspace.alice, channel=workspace.general)
    assert small.status == 200
    big = driver.slash_command(
        "note " + "x" * 3000, user=workspace.alice, channel=workspace.general
    )
    assert big.status == 413


def test_slow_headers_are_timed_out(
    start_bot: Callable[..., RunningBot],
    workspace: Workspace,
    refusals: Callable[[], list[logging.LogRecord]],
) -> None:
    bot = start_bot(request_header_timeout_seconds=1)
    answer, took = _raw(bot.port, b"POST /slack/events HTTP/1.1\r\nHost: bot\r\n")
    assert answer.startswith(b"HTTP/1.1 408") and 0.9 < took < 3
    assert "408 headers not received within 1 s" in refusals()[0].getMessage()
    silent, took = _raw(bot.port, b"")  # a connection that never says anything
    assert silent == b"" and 0.9 < took < 3


def test_a_slow_body_is_timed_out(
    start_bot: Callable[..., RunningBot],
    workspace: Workspace,
    refusals: Callable[[], list[logging.LogRecord]],
) -> None:
    bot = start_bot(request_body_timeout_seconds=1)
    head = (
        b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n"
    )
    answer, took = _raw(bot.port, head + b'{"type": ')
    assert answer.startswith(b"HTTP/1.1 408") and 0.9 < took < 3
    assert "408 body not received within 1 s" in refusals()[0].getMessage()


def test_requests_for_another_workspace_or_app_are_refused(
    bot: RunningBot,
    slack: SlackEmulator,
    workspace: Workspace,
    refusals: Callable[[], list[logging.LogRecord]],
) -> None:
    assert slack.calls_to("auth.test") and slack.calls_to("bots.info")  # learned at start
    slack.clear_calls()
    other_team = SlackDriver(bot.events_url, SIGNING_SECRET, slack, team_id="T0OTHER001")
    other_app = SlackDriver(bot.events_url, SIGNING_SECRET, slack, api_app_id="A0OTHER001")
    for driver in (other_team, other_app):
        command = driver.slash_command("help", user=workspace.alice, channel=workspace.general)
        shortcut = driver.global_shortcut("declare_incident", user=workspace.alice)
        event = driver.event({"type": "app_home_opened", "user": workspace.alice, "tab": "home"})
        assert [command.status, shortcut.status, event.status] == [403, 403, 403]
    assert len(refusals()) == 6
    assert "team T0OTHER001 is not ours" in refusals()[0].getMessage()
    assert "app A0OTHER001 is not ours" in refusals()[-1].getMessage()
    time.sleep(0.2)
    assert slack.calls == [] and slack.responses == [] and inbox_rows(bot) == []


def test_the_team_and_app_can_be_set(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace
) -> None:
    bot = start_bot(slack_team_id="T0OTHER001,E0ORG00001", slack_app_id="A0APP00001")
    ours = bot.driver(slack)  # the emulator's own team is not in the setting
    assert ours.slash_command("help", user=workspace.alice, channel=workspace.general).status == 403
    other = SlackDriver(bot.events_url, SIGNING_SECRET, slack, team_id="T0OTHER001")
    assert other.slash_command("help", user=workspace.alice, channel=workspace.general).ok


def test_a_request_that_cannot_be_kept_is_not_acknowledged(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace, caplog
) -> None:
    # (kept in the inbox before the answer: on SQLite the journal file would keep them,
    # tests/web/test_intake.py)
    bot = start_bot(inbox_journal="off")
    driver = bot.driver(slack)
    with bot.runtime.services.db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE inbox_request")
    ts = slack.post_as_user(workspace.bob, workspace.general, "is it down?")["ts"]
    event = driver.user_reacts(workspace.alice, workspace.general, ts, "eyes")
    assert event.status == 503  # Slack sends the event again later
    result = driver.slash_command("help", user=workspace.alice, channel=workspace.general)
    assert result.status == 500  # Slack shows the user it failed; nothing was done
    told = response_to(slack, result.response_url)["text"]
    assert "could not take that in" in told and "nothing was done" in told
    assert len(slack.responses) == 1  # no help: the command was not run
    logged = [r for r in caplog.records if "could not keep" in r.getMessage()]
    assert len(logged) == 2 and not any(r.exc_info for r in logged)


def _post_huge(port: int, *, chunked: bool, size: int = 50 * 1024 * 1024) -> int | None:
    """POST `size` bytes as fast as the server takes them; the status if one came back."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": JSON}
    if not chunked:
        headers["Content-Length"] = str(size)
    try:
        connection.putrequest("POST", "/slack/events")
        for name, value in headers.items():
            connection.putheader(name, value)
        if chunked:
            connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        block = b"x" * (1024 * 1024)
        for _ in range(size // len(block)):
            data = b"%x\r\n%s\r\n" % (len(block), block) if chunked else block
            connection.send(data)
        if chunked:
            connection.send(b"0\r\n\r\n")
        return connection.getresponse().status
    except (BrokenPipeError, ConnectionResetError):
        return None  # refused and closed before all of it was sent
    finally:
        connection.close()


def test_three_50_mb_posts_do_not_grow_the_process(bot_processes: StartBot) -> None:  # noqa: F811
    process = bot_processes()
    before = process.peak_memory_kb()
    statuses = [
        _post_huge(process.port, chunked=False),
        _post_huge(process.port, chunked=True),
        _post_huge(process.port, chunked=True),
    ]
    assert all(status in (413, None) for status in statuses), statuses
    grown = (process.peak_memory_kb() - before) / 1024
    assert grown < 16, f"peak memory grew by {grown:.1f} MB"
