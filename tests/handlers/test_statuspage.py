"""The status page from Slack to the public, through the emulator and the real server."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest

from bot.statuspage.config import stable_id
from playground.emulator import SlackDriver, SlackEmulator
from tests.conftest import Workspace
from tests.harness import RunningBot, response_to
from tests.scenarios import declare_values, must, open_declare_form, wait_for_setup
from tests.statuspage_fixtures import api, eventually, get, page_file

API = stable_id("component", "API")
WEBSITE = stable_id("component", "Website")
EVIL = '<script>alert("x")</script><b>bold</b> & co'


@pytest.fixture
def bot(start_bot: Callable[..., RunningBot], workspace: Workspace, tmp_path: Path) -> RunningBot:
    return start_bot(  # Alice is an incident admin: maintenance and components are for admins
        status_page_file=page_file(tmp_path),
        status_page_refresh_seconds=0.2,
        incident_admins=workspace.alice,
    )


def _declare(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    user: str,
    channel: str,
    *,
    title: str,
    extra: dict[str, dict[str, object]],
    **fields: object,
):
    view = open_declare_form(driver, slack, user=user, channel=channel, text=title)
    values = {**declare_values(title=title, manager=user, **fields), **extra}  # type: ignore[arg-type]
    return view, driver.view_submission(view, values, user=user)


@pytest.mark.scenario
def test_declare_update_resolve_on_the_page_with_nothing_internal(
    bot: RunningBot, driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    alice = workspace.alice
    view, result = _declare(
        bot,
        driver,
        slack,
        alice,
        workspace.general,
        title=f"Checkout {EVIL}",
        summary="INTERNAL: primary db-7 in eu-west-1 lost its disk",
        extra={
            "sp_components": {"sp_components": [API]},
            "sp_component_status": {"sp_component_status": "major_outage"},
            "sp_message": {"sp_message": f"Payments fail for some customers. {EVIL}"},
        },
    )
    assert result.status == 200 and not result.json, result.body
    labels = [b.get("label", {}).get("text") for b in view["blocks"]]
    assert {"Affected components", "Component status", "Status page message"} <= set(labels)
    incident = wait_for_setup(bot)
    channel = must(incident.channel_id)

    summary = eventually(lambda: (s := api(bot, "summary.json"))["incidents"] and s)
    [public] = summary["incidents"]
    assert public["name"] == f"Checkout {EVIL}" and public["status"] == "investigating"
    assert public["impact"] == "critical" and summary["status"]["indicator"] == "critical"
    assert public["incident_updates"][0]["body"] == f"Payments fail for some customers. {EVIL}"
    assert public["incident_updates"][0]["affected_components"] == [
        {"code": API, "name": "API", "old_status": "operational", "new_status": "major_outage"}
    ]
    assert public["shortlink"].startswith("https://status.acme.example/status/incidents/")
    assert {c["id"]: c["status"] for c in summary["components"]}[API] == "major_outage"

    # The card and the pinned card say the incident is on the page, with its link.
    card = slack.message(channel, must(incident.card_ts))
    slack.wait_for(
        lambda: "On the page" in json.dumps(slack.message(channel, must(incident.card_ts)))
    )
    assert card is not None

    # An update from the update form: component state changes, newest first.
    driver.slash_command("update", user=alice, channel=channel)
    form = slack.wait_for(
        lambda: (v := slack.current_view(alice)) and v["callback_id"] == "update_modal" and v
    )
    assert "sp_message" in json.dumps(form)
    done = driver.view_submission(
        form,
        {
            "message": {"message": "internal: we failed over db-7"},
            "status": {"status": "identified"},
            "sp_components": {"sp_components": [API]},
            "sp_component_status": {"sp_component_status": "degraded_performance"},
            "sp_message": {"sp_message": "We found the cause; payments recover."},
        },
        user=alice,
    )
    assert done.status == 200 and not done.json, done.body

    def updated():
        incidents = api(bot, "incidents.json")["incidents"]
        return incidents and len(incidents[0]["incident_updates"]) == 2 and incidents[0]

    public = eventually(updated)
    newest = public["incident_updates"][0]
    assert newest["body"] == "We found the cause; payments recover."
    assert public["status"] == "identified"
    assert {c["id"]: c["status"] for c in api(bot, "components.json")["components"]}[API] == (
        "degraded_performance"
    )

    # Everything public, in every format: nothing internal, user text escaped.
    everything = ""
    for path in (
        "/status",
        "/status/history",
        f"/status/incidents/{public['id']}",
        "/history.atom",
        "/history.rss",
        "/embed",
        "/embed/status.js",
        "/badge.svg",
        "/api/v2/summary.json",
        "/api/v2/incidents.json",
    ):
        status, _, body = get(bot, path)
        assert status == 200, path
        everything += body
        for secret in ("db-7", "eu-west-1", alice, channel, "INTERNAL", "internal:"):
            assert secret not in body, (path, secret)
        if path.startswith(("/status", "/embed", "/history", "/badge")):
            assert "<script>alert" not in body and "<b>bold" not in body, path
    assert "&lt;script&gt;alert" in get(bot, "/status")[2]
    _, _, js = get(bot, "/embed/status.js")
    assert "\\u003cscript\\u003e" in js and "textContent" in js

    for feed_path in ("/history.atom", "/history.rss"):
        feed = feedparser.parse(get(bot, feed_path)[2])
        assert not feed.bozo, (feed_path, feed.bozo_exception)
        [entry] = feed.entries
        assert entry.title == f"Checkout {EVIL}"
        content = entry.content[0].value if feed_path.endswith("atom") else entry.summary
        assert "We found the cause" in content and "&lt;script&gt;" in content

    # Resolving asks for the final public message; components go back to operational.
    driver.slash_command("resolve", user=alice, channel=channel)
    form = slack.wait_for(
        lambda: (v := slack.current_view(alice)) and v["callback_id"] == "resolve_modal" and v
    )
    labels = [b.get("label", {}).get("text") for b in form["blocks"]]
    assert "Final status page message" in labels
    driver.view_submission(
        form,
        {
            "resolution": {"resolution": "internal: replaced db-7"},
            "sp_message": {"sp_message": "Payments work again. Sorry."},
            "sp_component_status": {"sp_component_status": "operational"},
        },
        user=alice,
    )

    def resolved():
        inc = api(bot, "incidents.json")["incidents"][0]
        return inc["status"] == "resolved" and inc

    public = eventually(resolved)
    assert (
        public["resolved_at"]
        and public["incident_updates"][0]["body"] == "Payments work again. Sorry."
    )
    assert api(bot, "incidents/unresolved.json")["incidents"] == []
    assert api(bot, "status.json")["status"] == {
        "indicator": "none",
        "description": "All Systems Operational",
    }
    assert "Payments work again" in get(bot, "/status/history")[2]


@pytest.mark.scenario
def test_statuspage_command_and_a_private_incident_that_never_appears(
    bot: RunningBot, driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    alice = workspace.alice
    _, refused = _declare(
        bot,
        driver,
        slack,
        alice,
        workspace.general,
        title="Secret breach",
        private=True,
        extra={"sp_message": {"sp_message": "Tell everyone"}},
    )
    assert refused.json["response_action"] == "errors"
    assert "never published" in refused.json["errors"]["sp_message"]
    _, ok = _declare(
        bot, driver, slack, alice, workspace.general, title="Secret breach", private=True, extra={}
    )
    assert ok.status == 200 and not ok.json
    private = wait_for_setup(bot, number=1)
    result = driver.slash_command(
        "statuspage Leak it", user=alice, channel=must(private.channel_id)
    )
    assert "never published" in response_to(slack, result.response_url)["text"]

    _, public_ok = _declare(
        bot, driver, slack, alice, workspace.general, title="Slow search", extra={}
    )
    assert not public_ok.json
    incident = wait_for_setup(bot, number=2)
    assert api(bot, "incidents.json")["incidents"] == []  # internal until a message is written
    driver.slash_command(
        "statuspage Search is slow; we are on it.", user=alice, channel=must(incident.channel_id)
    )
    incidents = eventually(lambda: api(bot, "incidents.json")["incidents"])
    assert [i["name"] for i in incidents] == ["Slow search"]
    slack.wait_for(
        lambda: any(
            "updated <https://status.acme.example/status/incidents/" in m["text"]
            for m in slack.messages(must(incident.channel_id))
        )
    )
    for path in ("/status", "/history.atom", "/api/v2/summary.json", "/api/v2/incidents.json"):
        assert "Secret breach" not in get(bot, path)[2]
    assert get(bot, "/status/incidents/doesnotexist")[0] == 404


@pytest.mark.scenario
def test_maintenance_form_then_states_on_time_and_component_command(
    bot: RunningBot, driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    alice = workspace.alice
    driver.slash_command("maintenance", user=alice, channel=workspace.general)
    form = slack.wait_for(
        lambda: (v := slack.current_view(alice)) and v["callback_id"] == "maintenance_modal" and v
    )
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    end = start + timedelta(hours=2)
    bad = driver.view_submission(
        form,
        {
            "sp_title": {"sp_title": "DB upgrade"},
            "sp_message": {"sp_message": "Read-only"},
            "sp_start": {"sp_start": int(end.timestamp())},
            "sp_end": {"sp_end": int(start.timestamp())},
        },
        user=alice,
    )
    assert bad.json["response_action"] == "errors" and "sp_end" in bad.json["errors"]
    good = driver.view_submission(
        form,
        {
            "sp_title": {"sp_title": "DB upgrade"},
            "sp_message": {"sp_message": "Read-only for an hour"},
            "sp_components": {"sp_components": [WEBSITE]},
            "sp_start": {"sp_start": int(start.timestamp())},
            "sp_end": {"sp_end": int(end.timestamp())},
        },
        user=alice,
    )
    assert good.status == 200 and not good.json, good.body
    upcoming = eventually(
        lambda: api(bot, "scheduled-maintenances/upcoming.json")["scheduled_maintenances"]
    )
    assert upcoming[0]["name"] == "DB upgrade" and upcoming[0]["status"] == "scheduled"
    assert "Scheduled maintenance" in get(bot, "/status")[2]

    jobs = must(bot.runtime.services.status_page_jobs)
    jobs.clock = lambda: start + timedelta(minutes=1)
    jobs.tick()
    active = eventually(
        lambda: api(bot, "scheduled-maintenances/active.json")["scheduled_maintenances"]
    )
    assert active[0]["status"] == "in_progress"
    assert {c["id"]: c["status"] for c in api(bot, "components.json")["components"]}[WEBSITE] == (
        "under_maintenance"
    )
    assert api(bot, "status.json")["status"]["indicator"] == "maintenance"
    jobs.clock = lambda: end + timedelta(seconds=1)
    jobs.tick()
    eventually(
        lambda: api(bot, "scheduled-maintenances/active.json")["scheduled_maintenances"] == []
    )
    [done] = api(bot, "scheduled-maintenances.json")["scheduled_maintenances"]
    assert done["status"] == "completed" and done["scheduled_for"] and done["scheduled_until"]

    result = driver.slash_command(
        "component Card payments partial outage", user=alice, channel=workspace.general
    )
    assert (
        "Card payments is now *partial outage*" in response_to(slack, result.response_url)["text"]
    )

    def changed():
        found = {c["name"]: c for c in api(bot, "components.json")["components"]}
        return found["Card payments"]["status"] == "partial_outage" and found

    components = eventually(changed)
    assert components["Payments"]["group"] is True
    assert components["Card payments"]["id"] in components["Payments"]["components"]
    assert components["Payments"]["status"] == "partial_outage"
    wrong = driver.slash_command("component Mainframe down", user=alice, channel=workspace.general)
    assert "No component is called `Mainframe`" in response_to(slack, wrong.response_url)["text"]
