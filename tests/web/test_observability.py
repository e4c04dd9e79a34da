"""GET /metrics (scraped and parsed with prometheus_client's parser) and JSON logs."""

from __future__ import annotations

import io
import json
import logging
import socket
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from slack_sdk.errors import SlackApiError

from bot.core import logcontext
from bot.core.events import Delivery, EventBus, StatusChanged
from bot.core.vocabulary import Status
from playground.emulator import SlackEmulator
from tests.conftest import Workspace
from tests.harness import RunningBot, response_to
from tests.scenarios import declare
from web.observability import JsonFormatter, request_kind


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.scenario
def test_metrics_behind_a_bearer_token(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace
) -> None:
    bot = start_bot(metrics_token="scrape-me")
    url = bot.base_url + "/metrics"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    driver = bot.driver(slack)
    declare(bot, driver, slack, user=workspace.alice, channel=workspace.general, severity="sev2")
    listing = driver.slash_command("list", user=workspace.bob, channel=workspace.general)
    response_to(slack, listing.response_url)
    with pytest.raises(SlackApiError):
        bot.runtime.services.slack.users_info(user="U0NOBODY")
    answer = httpx.get(url, headers={"Authorization": "Bearer scrape-me"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    samples = _samples(answer.text)
    assert _value(samples, "incident_bot_ack_seconds_count", kind="command") >= 2
    assert _value(samples, "incident_bot_ack_seconds_count", kind="view_submission") == 1
    assert _value(samples, "incident_bot_ack_seconds_bucket", kind="command", le="+Inf") >= 2
    assert _value(samples, "incident_bot_slack_api_calls_total", method="conversations.create")
    assert _value(samples, "incident_bot_slack_api_calls_total", method="chat.postMessage") >= 1
    assert (
        _value(
            samples,
            "incident_bot_slack_api_errors_total",
            method="users.info",
            error="user_not_found",
        )
        == 1
    )
    assert _value(samples, "incident_bot_open_incidents", sev="sev2") == 1
    # The declaration's setup went out through the outbox: counted by channel and outcome.
    assert _value(
        samples, "incident_bot_deliveries_total", channel="outbox:channel", outcome="sent"
    )
    assert ("incident_bot_deliveries_pending", (("channel", "reminder"),)) in samples
    assert _value(samples, "incident_bot_open_incidents", sev="sev1") == 0
    bot.runtime.metrics.count_reminders(Counter({"sent": 2}))  # type: ignore[union-attr]
    again = _samples(httpx.get(url, headers={"Authorization": "Bearer scrape-me"}).text)
    assert _value(again, "incident_bot_reminders_sent_total", outcome="sent") == 2


@pytest.mark.scenario
def test_metrics_on_their_own_port_and_off_by_default(
    start_bot: Callable[..., RunningBot], workspace: Workspace
) -> None:
    plain = start_bot()
    assert httpx.get(plain.base_url + "/metrics").status_code == 404
    port = _free_port()
    bot = start_bot(metrics_host="127.0.0.1", metrics_port=port)
    assert bot.runtime.metrics_port == port
    assert httpx.get(bot.base_url + "/metrics").status_code == 404  # not on the main server
    answer = httpx.get(f"http://127.0.0.1:{port}/metrics")
    assert answer.status_code == 200
    assert _value(_samples(answer.text), "incident_bot_open_incidents", sev="sev1") == 0


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter(number_of=lambda incident_id: incident_id + 100))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield out
    finally:
        root.removeHandler(handler)


def _lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def test_json_lines_carry_incident_kind_and_slack_error(json_log: io.StringIO) -> None:
    log = logging.getLogger("tests.json")
    bus = EventBus()

    def failing(event: StatusChanged, delivery: Delivery) -> None:
        raise RuntimeError("boom")

    bus.subscribe("failing", failing, StatusChanged)
    from datetime import UTC, datetime

    event = StatusChanged(
        incident_id=7,
        actor="U1",
        at=datetime(2025, 1, 1, tzinfo=UTC),
        old=Status.INVESTIGATING,
        new=Status.IDENTIFIED,
    )
    kind = logcontext.request_kind.set("command")
    try:
        bus.publish(event)
        error = SlackApiError("no", {"ok": False, "error": "channel_not_found"})
        try:
            raise error
        except SlackApiError:
            log.exception("could not post")
        logcontext.slack_error.set(("chat.update", "message_not_found"))
        log.warning('plain line with "quotes"\nand a newline')
    finally:
        logcontext.request_kind.reset(kind)
        logcontext.slack_error.set(None)
    lines = _lines(json_log)
    failed = next(line for line in lines if "subscriber failing failed" in line["message"])
    assert failed["incident"] == 107 and failed["level"] == "ERROR"
    assert failed["request_kind"] == "command" and "RuntimeError: boom" in failed["exception"]
    posted = next(line for line in lines if line["message"] == "could not post")
    assert posted["slack_error"] == "channel_not_found" and "incident" not in posted
    plain = lines[-1]
    assert plain["slack_method"] == "chat.update" and plain["slack_error"] == "message_not_found"
    assert plain["message"] == 'plain line with "quotes"\nand a newline'
    assert len(json_log.getvalue().strip().splitlines()) == len(lines)  # one object per line


def test_request_kinds() -> None:
    assert request_kind({"command": "/incident", "text": "list"}) == "command"
    assert request_kind({"type": "block_actions"}) == "action"
    assert request_kind({"type": "view_submission"}) == "view_submission"
    assert request_kind({"type": "event_callback"}) == "event"
    assert request_kind({"type": "shortcut"}) == "shortcut"
