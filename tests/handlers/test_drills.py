"""Drills through Slack (the emulator and the real bot): the declare form's checkbox, the
`/incident drill` command playing a scenario in the drill channel only, and the score."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from bot.statuspage.config import stable_id
from playground.emulator import SlackEmulator
from storage.models import Incident
from storage.models_drills import DrillRun, DrillStep
from storage.models_statuspage import StatusIncident
from storage.types import utcnow
from tests.conftest import Workspace
from tests.harness import RunningBot, response_to
from tests.markup import HOSTILE, assert_no_markup_from_input
from tests.scenarios import (
    declare_values,
    must,
    open_declare_form,
    submit_declare,
    wait_for_setup,
)
from tests.statuspage_fixtures import api, page_file

pytestmark = pytest.mark.scenario

FAST = {"scheduler_tick_seconds": 0.3, "incident_broadcast_channel": "#incidents"}
FAILOVER_STEPS = 7
API = stable_id("component", "API")


@pytest.fixture
def drill_bot(start_bot: Any, slack: SlackEmulator, workspace: Workspace) -> RunningBot:
    slack.add_channel("incidents")
    bot: RunningBot = start_bot(**FAST)
    return bot


def _answer(bot: RunningBot, slack: SlackEmulator, text: str, *, user: str, channel: str) -> str:
    result = bot.driver(slack).slash_command(text, user=user, channel=channel)
    body = response_to(slack, result.response_url)
    return str(body.get("text")) + str(body.get("blocks"))


def _steps(slack: SlackEmulator, channel: str) -> list[dict[str, Any]]:
    return [
        m
        for m in slack.messages(channel)
        if any(str(b.get("block_id", "")).startswith("drill_step:") for b in m.get("blocks") or [])
    ]


def test_the_declare_form_s_drill_checkbox_makes_a_marked_drill_that_stays_in_its_channel(
    drill_bot: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    driver = drill_bot.driver(slack)
    ws = workspace
    view = open_declare_form(driver, slack, user=ws.alice, channel=ws.general, text="API slow")
    drill_box = next(b for b in view["blocks"] if b["block_id"] == "drill")
    assert drill_box["element"]["options"][0]["text"]["text"] == "This is a drill"
    result = submit_declare(driver, view, user=ws.alice, title=HOSTILE[:140], drill=True)
    assert result.status == 200 and result.view_errors == []
    incident = wait_for_setup(drill_bot)
    assert incident.setup_state == "complete" and incident.is_drill
    channel = slack.channel_by_name(must(incident.channel_name))
    assert channel is not None and must(incident.channel_name).startswith("drill-inc-1")
    assert channel["topic"]["value"].startswith("DRILL (practice, not a real incident) | SEV2")
    [pin] = slack.pins(channel["id"])
    card = assert_no_markup_from_input(pin["blocks"], where="the drill card")
    assert "[DRILL] #1" in str(pin["blocks"]) and "This is a drill" in card
    broadcast = must(slack.channel_by_name("incidents"))
    assert slack.messages(broadcast["id"]) == []  # nobody outside the channel is told
    with drill_bot.runtime.services.db.read() as session:
        run = session.exec(select(DrillRun)).one()
        assert (run.incident_id, run.scenario) == (incident.id, "")
    # `/incident list` marks it
    listed = _answer(drill_bot, slack, "list", user=ws.alice, channel=ws.general)
    assert "[DRILL] #1" in listed


def test_the_drill_command_plays_a_scenario_in_the_drill_channel_and_scores_it(
    drill_bot: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    ws = workspace
    answer = _answer(drill_bot, slack, "drill database-failover", user=ws.alice, channel=ws.general)
    assert "Drill #1 started" in answer and "database-failover" in answer
    incident = wait_for_setup(drill_bot)
    assert incident.is_drill and must(incident.channel_name).startswith("drill-inc-1-checkout")
    channel = must(incident.channel_id)
    slack.wait_for(lambda: len(_steps(slack, channel)) >= 1, timeout=5)  # the step at 0m
    # Time passes (the steps' due times are the scenario's clock): every step falls due now.
    db = drill_bot.runtime.services.db
    with db.session() as session:
        session.execute(
            update(DrillStep)
            .where(col(DrillStep.played_at).is_(None))
            .values(due_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    slack.wait_for(lambda: len(_steps(slack, channel)) >= FAILOVER_STEPS, timeout=10)
    steps = _steps(slack, channel)
    keys = [b["block_id"] for m in steps for b in m["blocks"] if b.get("block_id")]
    assert keys == [f"drill_step:drill-{incident.id}-{n}" for n in range(FAILOVER_STEPS)]
    assert steps[0]["username"] == "Alertmanager (drill)"
    assert steps[2]["username"] == "Dana (DBA)" and steps[2]["icons"] == {"emoji": ":floppy_disk:"}
    # Posted in the drill channel only: no step (and nothing else) went anywhere else.
    posts = slack.calls_to("chat.postMessage")
    personas = [c for c in posts if c.params.get("username")]
    assert len(personas) == FAILOVER_STEPS
    assert {c.params["channel"] for c in personas} == {channel}
    assert slack.messages(must(slack.channel_by_name("incidents"))["id"]) == []
    with db.read() as session:
        assert session.exec(select(StatusIncident)).all() == []
    # Ending it resolves it and posts the score in its channel.
    ended = _answer(drill_bot, slack, "drill end", user=ws.alice, channel=channel)
    assert "Drill ended" in ended

    def score() -> dict[str, Any] | None:
        found = [m for m in slack.messages(channel) if "Drill score" in str(m.get("blocks"))]
        return found[0] if found else None

    message = slack.wait_for(score, timeout=8)
    text = str(message["blocks"])
    assert "Time to acknowledge:* not done" in text  # nobody managed it
    assert "Time to name an incident manager:* not done" in text
    assert "Post-mortem started:* no" in text
    with db.read() as session:
        assert session.get(Incident, incident.id).status == "resolved"  # type: ignore[union-attr]
    assert len([m for m in slack.messages(channel) if "Drill score" in str(m.get("blocks"))]) == 1


def test_an_unknown_scenario_is_a_clear_error_and_starts_nothing(
    drill_bot: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    ws = workspace
    answer = _answer(drill_bot, slack, "drill <!here>", user=ws.alice, channel=ws.general)
    assert "There is no scenario called" in answer and "database-failover" in answer
    assert "<!here>" not in answer
    listed = _answer(drill_bot, slack, "drill list", user=ws.alice, channel=ws.general)
    assert "bad-deploy" in listed and "database-failover" in listed
    outside = _answer(drill_bot, slack, "drill end", user=ws.alice, channel=ws.general)
    assert "incident" in outside and "channel" in outside
    with drill_bot.runtime.services.db.read() as session:
        assert session.exec(select(Incident)).all() == []


def test_a_drill_s_status_page_update_is_recorded_for_the_score_and_never_public(
    start_bot: Any, slack: SlackEmulator, workspace: Workspace, tmp_path: Path
) -> None:
    bot = start_bot(status_page_file=page_file(tmp_path), status_page_refresh_seconds=0.2)
    driver, ws = bot.driver(slack), workspace
    view = open_declare_form(driver, slack, user=ws.alice, channel=ws.general, text="Drill")
    values = {
        **declare_values(title="Payments drill", manager=ws.alice, drill=True),
        "sp_components": {"sp_components": [API]},
        "sp_component_status": {"sp_component_status": "major_outage"},
        "sp_message": {"sp_message": "Payments fail for some customers."},
    }
    result = driver.view_submission(view, values, user=ws.alice)
    assert result.status == 200 and not result.json, result.body
    incident = wait_for_setup(bot)
    assert incident.is_drill
    answer = _answer(bot, slack, "statuspage Still looking", user=ws.alice,
                     channel=must(incident.channel_id))  # fmt: skip
    assert "nothing was published on the status page" in answer
    with bot.runtime.services.db.read() as session:
        run = session.exec(select(DrillRun)).one()
        assert run.statuspage_message == "Payments fail for some customers."  # the first one
        assert run.statuspage_at is not None
        assert session.exec(select(StatusIncident)).all() == []
    summary = api(bot, "summary.json")
    assert summary["incidents"] == [] and summary["status"]["indicator"] == "none"
    assert {c["status"] for c in summary["components"]} == {"operational"}
