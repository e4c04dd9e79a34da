"""Playground mode: the start-up decision, and the page's JSON API driving the real bot
through the built-in emulator (signed requests over HTTP, as Slack sends them)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import yaml
from starlette.applications import Starlette

from blocks.ids import Action
from bot.core.errors import ConfigError
from bot.settings import load_settings
from playground.emulator import SlackEmulator
from tests.harness import BOT_TOKEN, SIGNING_SECRET
from tests.playground_bot import PlaygroundBot
from tests.processes import free_port
from web.playground import wanted
from web.playground.api import SHORTCUTS
from web.playground.startup import start_session

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.scenario


def _env(**values: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_"))}
    return {**keep, **values}


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _wait_up(process: subprocess.Popen[str], url: str, timeout: float = 60) -> tuple[int, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the bot exited with {process.returncode}"
        try:
            return _get(url)
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer")


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=30)
    return out


def test_the_decision_follows_the_token() -> None:
    assert wanted(False, load_settings(env_file=None, slack_bot_token=""))
    assert wanted(False, load_settings(env_file=None, slack_bot_token="xoxb-your-bot-token"))
    assert not wanted(False, load_settings(env_file=None, slack_bot_token="xoxb-1-2-abc"))
    assert wanted(True, load_settings(env_file=None, slack_bot_token="xoxb-1-2-abc"))


def test_without_credentials_start_runs_the_playground(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py")],
        cwd=tmp_path,
        env=_env(PORT=str(port), HOST="0.0.0.0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        status, page = _wait_up(process, f"http://127.0.0.1:{port}/playground")
        assert status == 200 and "playground" in page.lower()
        assert _get(f"http://127.0.0.1:{port}/healthz")[0] == 200
    finally:
        out = _stop(process)
    assert "PLAYGROUND MODE" in out
    assert out.count("http://") == 1  # one URL, the page's, on loopback whatever HOST says
    assert f"Open http://127.0.0.1:{port}/playground" in out
    assert "SLACK_BOT_TOKEN" in out and "Create the Slack app" in out
    assert (tmp_path / "playground-data" / "playground.db").exists()
    assert not (tmp_path / "incident-bot.db").exists()


def test_with_credentials_nothing_changes(tmp_path: Path) -> None:
    port = free_port()
    with SlackEmulator(bot_token=BOT_TOKEN) as slack:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py")],
            cwd=tmp_path,
            env=_env(
                SLACK_BOT_TOKEN=BOT_TOKEN,
                SLACK_SIGNING_SECRET=SIGNING_SECRET,
                SLACK_API_URL=slack.api_url,
                DATABASE_URL=f"sqlite:///{tmp_path}/bot.db",
                HOST="127.0.0.1",
                PORT=str(port),
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert _wait_up(process, f"http://127.0.0.1:{port}/healthz")[0] == 200
            assert _get(f"http://127.0.0.1:{port}/playground")[0] == 404
            assert slack.calls_to("auth.test")  # it talked to the Slack it was given
        finally:
            out = _stop(process)
    assert "PLAYGROUND" not in out
    assert (tmp_path / "bot.db").exists()
    assert not (tmp_path / "playground-data").exists()


@pytest.fixture(scope="module")
def playground(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlaygroundBot]:
    with PlaygroundBot(tmp_path_factory.mktemp("pg") / "playground-data") as bot:
        yield bot


def _state(bot: PlaygroundBot, user: str, channel: str = "") -> Any:
    status, state = bot.get(f"/playground/api/state?user={user}&channel={channel}")
    assert status == 200
    return state


def _wait(check: Any, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _incident_channel(bot: PlaygroundBot, user: str, slug: str) -> Any:
    """The new incident's channel, once its setup has posted there (the incident knows its
    channel by then: a command sent there earlier could find no incident)."""
    channel = _wait(
        lambda: next((c for c in _state(bot, user)["channels"] if slug in c["name"]), None)
    )
    _wait(
        lambda: [
            m for m in _state(bot, user, channel["id"])["channel"]["messages"] if m.get("blocks")
        ]
    )
    return channel


def test_declare_through_the_api(playground: PlaygroundBot) -> None:
    world = playground.session.world
    iris, general = world.people["iris"], world.channels["general"]
    status, answer = playground.post(
        "/playground/api/send",
        {"user": iris, "channel": general, "text": "/incident declare Disk full on db-1"},
    )
    assert status == 200 and answer["status"] == 200
    view = _wait(lambda: _state(playground, iris)["views"])[-1]
    assert view["callback_id"]
    # An empty severity: the bot's validation error comes back for the field.
    status, answer = playground.post(
        "/playground/api/submit",
        {"user": iris, "view_id": view["id"], "values": {"title": {"title": ""}}},
    )
    assert status == 200
    assert answer["answer"]["response_action"] == "errors"
    assert _state(playground, iris)["views"]  # still open
    status, answer = playground.post(
        "/playground/api/submit",
        {
            "user": iris,
            "view_id": view["id"],
            "values": {"title": {"title": "Disk full on db-1"}, "severity": {"severity": "sev2"}},
        },
    )
    assert status == 200 and answer["status"] == 200
    channel = _wait(
        lambda: next(
            (c for c in _state(playground, iris)["channels"] if "disk-full" in c["name"]),
            None,
        )
    )
    card = _wait(lambda: _state(playground, iris, channel["id"])["channel"]["pins"])
    assert len(card) == 1
    # Sam, the stakeholder, is told by mail (the playground's mailbox)
    mail = _wait(lambda: playground.get("/playground/api/outside")[1]["mail"])
    assert any("Disk full on db-1" in m["subject"] for m in mail)
    # and by SMS (the playground's fake Twilio),
    sms = _wait(lambda: playground.get("/playground/api/outside")[1]["sms"])
    assert sms[0]["to"] == "+15550100001"
    # and the inspector shows the slash command sent and the bot's calls.
    _, log = playground.get("/playground/api/log?after_call=0&after_request=0")
    assert any(r["kind"] == "/incident" and r["status"] == 200 for r in log["requests"])
    assert {"conversations.create", "pins.add"} <= {c["method"] for c in log["calls"]}


def test_the_inspector_shows_response_url_posts(playground: PlaygroundBot) -> None:
    world = playground.session.world
    sam, general = world.people["sam"], world.channels["general"]
    _, before = playground.get("/playground/api/log?after_response=0")
    status, _ = playground.post(
        "/playground/api/send", {"user": sam, "channel": general, "text": "/incident help"}
    )
    assert status == 200

    def posted() -> Any:
        _, log = playground.get(f"/playground/api/log?after_response={before['next_response']}")
        return log["responses"]

    answer = _wait(posted)[-1]
    assert "/incident declare" in answer["body"]["text"]
    messages = _state(playground, sam, general)["channel"]["messages"]
    assert any(m.get("ephemeral") and "/incident declare" in m["text"] for m in messages)


def test_mentions_are_sent_as_slack_sends_them(playground: PlaygroundBot) -> None:
    world = playground.session.world
    iris, rami = world.people["iris"], world.people["rami"]
    general = world.channels["general"]
    status, _ = playground.post(
        "/playground/api/send", {"user": iris, "channel": general, "text": "@rami see #random"}
    )
    assert status == 200
    _, log = playground.get("/playground/api/log?after_call=0&after_request=0")
    event = [r for r in log["requests"] if r["kind"] == "message"][-1]["body"]["event"]
    assert event["text"] == f"<@{rami}> see <#{world.channels['random']}|random>"
    assert {"type": "user", "user_id": rami} in event["blocks"][0]["elements"][0]["elements"]
    # In a command, the escaped form `<@U…|name>` the bot's parser reads.
    playground.post(
        "/playground/api/send",
        {"user": iris, "channel": general, "text": "/incident declare Mentions work"},
    )
    view = _wait(lambda: _state(playground, iris)["views"])[-1]
    values = {"title": {"title": "Mentions work"}, "severity": {"severity": "sev4"}}
    playground.post(
        "/playground/api/submit", {"user": iris, "view_id": view["id"], "values": values}
    )
    incident = _incident_channel(playground, iris, "mentions-work")
    status, answer = playground.post(
        "/playground/api/send",
        {"user": iris, "channel": incident["id"], "text": "/incident role scribe @rami"},
    )
    assert status == 200 and answer["status"] == 200
    _wait(lambda: rami in _state(playground, iris, incident["id"])["channel"]["members"])


def test_an_approved_status_update_reaches_the_social_panel(playground: PlaygroundBot) -> None:
    world = playground.session.world
    iris, general = world.people["iris"], world.channels["general"]
    playground.post(
        "/playground/api/send",
        {"user": iris, "channel": general, "text": "/incident declare Checkout down"},
    )
    view = _wait(lambda: _state(playground, iris)["views"])[-1]
    values = {"title": {"title": "Checkout down"}, "severity": {"severity": "sev2"}}
    playground.post(
        "/playground/api/submit", {"user": iris, "view_id": view["id"], "values": values}
    )
    incident = _incident_channel(playground, iris, "checkout-down")
    text = "/incident statuspage Payments <b>fail</b> for some customers"
    playground.post("/playground/api/send", {"user": iris, "channel": incident["id"], "text": text})

    def previews() -> list[Any]:
        messages = _state(playground, iris, incident["id"])["channel"]["messages"]
        return [m for m in messages if "Mastodon post" in m.get("text", "")]

    preview = _wait(previews, timeout=30)[-1]
    assert playground.get("/playground/api/outside")[1]["social"] == []  # not before approval
    status, _ = playground.post(
        "/playground/api/action",
        {
            "user": iris,
            "channel": incident["id"],
            "ts": preview["ts"],
            "action_id": Action.SOCIAL_POST.value,
        },
    )
    assert status == 200
    [post] = _wait(lambda: playground.get("/playground/api/outside")[1]["social"], timeout=30)
    assert post["content"].startswith("Checkout down: Investigating. Payments <b>fail</b>")
    assert f"{playground.url}/status/incidents/" in post["content"]


def test_a_reaction_is_a_real_event(playground: PlaygroundBot) -> None:
    world = playground.session.world
    rami, random = world.people["rami"], world.channels["random"]
    status, answer = playground.post(
        "/playground/api/send", {"user": rami, "channel": random, "text": "hello"}
    )
    assert status == 200
    status, answer = playground.post(
        "/playground/api/react",
        {"user": rami, "channel": random, "ts": answer["ts"], "emoji": ":eyes:"},
    )
    assert status == 200 and answer["status"] == 200
    _, log = playground.get("/playground/api/log?after_call=0&after_request=0")
    event = [r for r in log["requests"] if r["kind"] == "reaction_added"][-1]
    assert event["body"]["event"]["reaction"] == "eyes"
    messages = _state(playground, rami, random)["channel"]["messages"]
    assert messages[-1]["reactions"][0]["users"] == [rami]


@pytest.mark.parametrize("source", ["alertmanager", "grafana", "pagerduty"])
def test_sample_alert_reaches_the_hooks(playground: PlaygroundBot, source: str) -> None:
    incidents = playground.session.world.channels["incidents"]
    iris = playground.session.world.people["iris"]

    def triage() -> list[Any]:
        messages = _state(playground, iris, incidents)["channel"]["messages"]
        return [m for m in messages if m.get("bot_id") and m.get("blocks")]

    before = len(triage())
    status, answer = playground.post("/playground/api/alert", {"source": source})
    assert status == 200, answer
    # On a loaded machine the hooks may answer 503 "took too long" (their 0.9 s deadline);
    # the store goes on, and its triage message comes all the same.
    assert answer["status"] in (200, 202) or (
        answer["status"] == 503 and "took too long" in answer["answer"]
    ), answer
    _wait(lambda: len(triage()) > before)  # a triage message in ALERTS_CHANNEL (#incidents)


def test_bad_input_is_refused_plainly(playground: PlaygroundBot) -> None:
    iris = playground.session.world.people["iris"]
    general = playground.session.world.channels["general"]
    status, answer = playground.post(
        "/playground/api/send", {"user": "U999", "channel": general, "text": "hi"}
    )
    assert status == 400 and "people" in answer["error"]
    status, answer = playground.post(
        "/playground/api/send", {"user": iris, "channel": general, "text": "/deploy now"}
    )
    assert status == 400 and "/incident" in answer["error"]
    status, answer = playground.post("/playground/api/alert", {"source": "nagios"})
    assert status == 400
    assert playground.get("/playground/api/nothing")[0] == 404
    assert playground.get("/playground/static/../startup.py")[0] == 404


def test_shortcuts_are_the_manifests() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    declared = {(s["callback_id"], s["type"]) for s in manifest["features"]["shortcuts"]}
    assert {(cid, kind) for cid, kind, _ in SHORTCUTS} == declared


def test_the_page_answers_loopback_only(playground: PlaygroundBot) -> None:
    app = Starlette(routes=playground.session.routes())

    async def from_the_network() -> list[int]:
        transport = httpx.ASGITransport(app=app, client=("10.0.0.7", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://pg") as client:
            return [
                (await client.get("/playground")).status_code,
                (await client.get("/playground/api/config")).status_code,
                (await client.post("/playground/api/send", json={})).status_code,
            ]

    assert anyio.run(from_the_network) == [403, 403, 403]
    assert playground.get("/playground/api/config")[0] == 200  # from 127.0.0.1


def test_playground_host_opens_it(tmp_path: Path) -> None:
    base = load_settings(env_file=None, slack_bot_token="", port=0, playground_host="0.0.0.0")
    session = start_session(base, env_file=None, data_dir=tmp_path / "data")
    try:
        assert session.open_to_all
        assert session.settings.host == "0.0.0.0"
        assert session.url.startswith("http://127.0.0.1:")
    finally:
        session.stop()
    base = load_settings(env_file=None, slack_bot_token="", port=0, host="0.0.0.0")
    session = start_session(base, env_file=None, data_dir=tmp_path / "data")
    try:
        assert not session.open_to_all
        assert session.settings.host == "127.0.0.1"  # HOST's 0.0.0.0 is not followed
    finally:
        session.stop()


def test_a_bad_playground_host_stops_start_up() -> None:
    with pytest.raises(ConfigError, match="PLAYGROUND_HOST"):
        load_settings(env_file=None, playground_host="http://0.0.0.0/")
