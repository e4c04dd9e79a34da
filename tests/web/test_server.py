"""The HTTP server: request signatures, url_verification, health, and no head-of-line blocking."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from playground.emulator import SlackDriver, SlackEmulator
from tests.conftest import Workspace
from tests.harness import RunningBot, response_to


def test_bad_signature_is_rejected_without_slack_calls(
    driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    slack.clear_calls()
    result = driver.with_options(bad_signature=True).slash_command(
        "help", user=workspace.alice, channel=workspace.general
    )
    assert result.status == 401
    time.sleep(0.3)
    assert slack.calls == []
    assert slack.responses == []


def test_stale_timestamp_is_rejected(
    driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    slack.clear_calls()
    result = driver.with_options(stale_timestamp=True).slash_command(
        "help", user=workspace.alice, channel=workspace.general
    )
    assert result.status == 401
    time.sleep(0.3)
    assert slack.calls == [] and slack.responses == []


def test_unsigned_request_is_rejected(bot: RunningBot) -> None:
    response = httpx.post(bot.events_url, data={"command": "/incident", "text": "help"})
    assert response.status_code == 401


def test_url_verification_challenge(driver: SlackDriver) -> None:
    result = driver.url_verification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
    assert result.status == 200
    assert "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in result.body


def test_other_methods_on_the_slack_endpoint_are_405(bot: RunningBot) -> None:
    """POST /slack/events bypasses Starlette (web/slack_endpoint.py); other methods still
    reach its route there, and are refused as before."""
    assert httpx.get(bot.events_url).status_code == 405
    assert httpx.put(bot.events_url, content=b"{}").status_code == 405


def test_healthz_ok(bot: RunningBot) -> None:
    response = httpx.get(bot.base_url + "/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


def test_healthz_503_when_database_is_down(bot: RunningBot) -> None:
    good = bot.runtime.services.db
    bot.runtime.services.db.engine.dispose()
    from storage import Database

    # Point the health check at a database that does not answer.
    broken = Database("postgresql://nobody@127.0.0.1:1/none")
    good.ping = broken.ping  # type: ignore[method-assign]
    response = httpx.get(bot.base_url + "/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


def test_concurrent_commands_are_acknowledged_without_queueing(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace
) -> None:
    """20 slash commands at once, each calling Slack with 300 ms latency, all ack fast.

    From 20 people: one person's commands are processed in the order they came, one after
    the other (web/intake.Intake.line_up); different people's at once."""
    bot = start_bot()
    driver = bot.driver(slack)
    people = [slack.add_user(f"responder{n}") for n in range(20)]
    slack.set_latency(0.3)

    def send(n: int) -> tuple[int, float]:
        result = driver.slash_command(
            f"declare Outage {n}", user=people[n], channel=workspace.general
        )
        return result.status, result.elapsed

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(send, range(20)))
    assert all(status == 200 for status, _ in results)
    slowest = max(elapsed for _, elapsed in results)
    # Slack allows 3 s; handling them one after another would take 20 x 0.3 s = 6 s.
    assert slowest < 1.0, f"slowest ack took {slowest:.2f}s"
    # Every command's Slack call (views.open, 300 ms each) completed, in parallel.
    opened = slack.wait_for("views.open", count=20, timeout=10)
    assert opened.status == 200
    assert time.monotonic() - started < 3.0
    titles = {
        c.params["view"]["blocks"][0]["element"]["initial_value"]
        for c in slack.calls_to("views.open")
    }
    assert titles == {f"Outage {n}" for n in range(20)}


def test_unexpected_error_is_logged_with_reference_and_told(
    driver: SlackDriver, slack: SlackEmulator, workspace: Workspace, caplog
) -> None:
    slack.fail("views.open", error="internal_error", times=1)
    result = driver.slash_command(
        "declare DB down", user=workspace.alice, channel=workspace.general
    )
    assert result.status == 200
    body = response_to(slack, result.response_url)
    text = body["text"]
    assert "Slack answered `internal_error`" in text
    reference = text.split("reference `")[1].split("`")[0]
    assert len(reference) == 8
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert reference in logged


def test_slash_command_body_is_form_encoded_like_slack(
    driver: SlackDriver, workspace: Workspace
) -> None:
    result = driver.slash_command("help", user=workspace.alice, channel=workspace.general)
    assert result.payload["command"] == "/incident"
    assert json.dumps(result.payload)  # the full field set Slack sends
    assert {"trigger_id", "response_url", "team_id", "api_app_id"} <= set(result.payload)
