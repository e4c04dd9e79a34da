"""Stakeholders in Slack: `/incident notify`, `/incident comms`, "Email the managers", the
forms' who-will-be-notified and "don't notify them", private incidents (running bot, emulator,
real SMTP)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.stakeholders.claims import is_given_up
from playground.emulator import SlackDriver, SlackEmulator
from storage.models_stakeholders import StakeholderNotice
from tests.conftest import Workspace
from tests.harness import RunningBot, response_to
from tests.scenarios import declare, must, open_declare_form
from tests.smtp_server import SmtpServer

pytestmark = pytest.mark.scenario


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    with SmtpServer(tmp_path) as server:
        yield server


@pytest.fixture
def bot(
    start_bot: Callable[..., RunningBot],
    workspace: Workspace,
    smtp: SmtpServer,
    tmp_path: Path,
) -> RunningBot:
    groups = tmp_path / "stakeholders.yml"
    groups.write_text(
        f"""
groups:
  - name: Management
    quadrant: keep_satisfied
    severities: [sev1, sev2]
    members:
      - {{email: cto@acme.example}}
  - name: Product team
    quadrant: manage_closely
    members:
      - {{slack: {workspace.carol}, email: pm@acme.example}}
  - name: Everyone else
    quadrant: monitor
    members:
      - email: all@acme.example
"""
    )
    return start_bot(
        **smtp.settings(),
        stakeholders_file=str(groups),
        status_page_url="https://status.acme.example",
        scheduler_tick_seconds=1,
    )


def mails(smtp: SmtpServer, address: str) -> list[Any]:
    return [m.message for m in smtp.messages if address in m.recipients]


def notices(bot: RunningBot) -> list[StakeholderNotice]:
    with bot.runtime.services.db.read() as session:
        return list(session.exec(select(StakeholderNotice)).all())


def ephemeral_text(slack: SlackEmulator, result: Any) -> str:
    return str(response_to(slack, result.response_url)["text"])


def test_the_declare_form_says_who_will_be_notified(
    bot: RunningBot, driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    view = open_declare_form(driver, slack, user=workspace.alice, channel=workspace.general)
    text = str(view["blocks"][-1])
    assert "Who will be notified" in text
    assert "Management: 1 DM" not in text  # Management has no Slack member
    assert "Management: 1 e-mail (SEV1, SEV2 only)" in text
    assert "Product team: 1 invite, 1 DM, 1 e-mail" in text
    assert "Everyone else" not in text  # monitor: nothing pushed
    assert "private incident" in text.lower()


def test_notify_a_group_now_and_see_it_in_comms(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    smtp: SmtpServer,
) -> None:
    incident = declare(
        bot,
        driver,
        slack,
        user=workspace.alice,
        channel=workspace.general,
        title="Payments slow",
        severity="sev3",
    )
    channel = must(incident.channel_id)
    slack.wait_for(lambda: len(mails(smtp, "pm@acme.example")) == 1, timeout=10)

    result = driver.slash_command(
        # Slack escapes &, < and > in what people type.
        "notify everyone else Checkout &lt;b&gt;may&lt;/b&gt; be slow; no action needed",
        user=workspace.alice,
        channel=channel,
    )
    assert "Notifying *Everyone else*: 1 notice" in ephemeral_text(slack, result)
    slack.wait_for(lambda: len(mails(smtp, "all@acme.example")) == 1, timeout=10)
    [mail] = mails(smtp, "all@acme.example")
    html = mail.get_body(("html",)).get_content()
    assert "Checkout &lt;b&gt;may&lt;/b&gt; be slow" in html
    text = mail.get_body(("plain",)).get_content()
    assert "Checkout <b>may</b> be slow" in text

    refused = driver.slash_command("notify management hi", user=workspace.bob, channel=channel)
    assert "You cannot notify customers" in ephemeral_text(slack, refused)
    unknown = driver.slash_command("notify finance hi", user=workspace.alice, channel=channel)
    assert "no stakeholder group `finance`" in ephemeral_text(slack, unknown)
    outside = driver.slash_command(
        "notify management", user=workspace.alice, channel=workspace.general
    )
    assert "works inside an incident's channel" in ephemeral_text(slack, outside)

    smtp.handler.fail_with = "550 5.1.1 No such user"
    driver.slash_command("notify management", user=workspace.alice, channel=channel)
    slack.wait_for(
        lambda: any(is_given_up(n) and n.recipient == "cto@acme.example" for n in notices(bot)),
        timeout=10,
    )
    comms = driver.slash_command("comms", user=workspace.bob, channel=channel)
    body = response_to(slack, comms.response_url)
    assert "1 failed" in body["text"]
    text = str(body["blocks"])
    assert "Not delivered" in text and "cto@acme.example" in text and "550" in text
    assert "all@acme.example" in text and "delivered" in text

    smtp.handler.fail_with = None
    driver.block_actions(
        "incident_retry_notices",
        user=workspace.alice,
        message=body,
        channel=channel,
        ephemeral=True,
    )
    slack.wait_for(lambda: len(mails(smtp, "cto@acme.example")) == 1, timeout=10)


def test_the_checklist_button_emails_the_managers(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    smtp: SmtpServer,
) -> None:
    declare(
        bot,
        driver,
        slack,
        user=workspace.alice,
        channel=workspace.general,
        title="Minor glitch",
        severity="sev4",
    )
    checklist = slack.wait_for(
        lambda: next((m for m in slack.dms(workspace.alice) if "checklist" in m["text"]), None)
    )
    assert "Email the managers" in str(checklist["blocks"])
    slack.wait_for(lambda: len(mails(smtp, "pm@acme.example")) == 1, timeout=10)
    driver.block_actions(
        "incident_email_managers",
        user=workspace.alice,
        message=checklist,
        channel=slack.dm_channel_id(workspace.alice),
    )
    slack.wait_for(lambda: len(mails(smtp, "cto@acme.example")) == 1, timeout=10)
    slack.wait_for(lambda: len(mails(smtp, "pm@acme.example")) == 2, timeout=10)
    summary = mails(smtp, "cto@acme.example")[0].get_body(("plain",)).get_content()
    assert "https://status.acme.example" in summary and "Who leads: Alice Archer" in summary
    assert mails(smtp, "all@acme.example") == []


def test_an_update_can_skip_the_stakeholders(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    smtp: SmtpServer,
) -> None:
    incident = declare(
        bot,
        driver,
        slack,
        user=workspace.alice,
        channel=workspace.general,
        title="API errors",
        severity="sev2",
    )
    channel = must(incident.channel_id)
    slack.wait_for(lambda: len(mails(smtp, "pm@acme.example")) == 1, timeout=10)

    def post_update(message: str, *, quiet: bool) -> None:
        before = len(slack.calls_to("views.open"))
        driver.slash_command("update", user=workspace.alice, channel=channel)
        slack.wait_for("views.open", count=before + 1)
        form = slack.modal(workspace.alice)
        assert "Who this update notifies" in str(form["blocks"])
        assert "Product team: 1 DM, 1 e-mail" in str(form["blocks"])
        values: dict[str, dict[str, Any]] = {"message": {"message": message}}
        if quiet:
            values["quiet"] = {"quiet": ["quiet"]}
        result = driver.view_submission(form, values, user=workspace.alice)
        assert result.status == 200

    post_update("Only a small step; no need to tell them", quiet=True)
    post_update("Root cause found", quiet=False)
    slack.wait_for(lambda: len(mails(smtp, "pm@acme.example")) == 2, timeout=10)
    updates = [n for n in notices(bot) if n.trigger == "update"]
    assert {n.recipient for n in updates} == {workspace.carol, "pm@acme.example"}
    assert (
        "Root cause found" in mails(smtp, "pm@acme.example")[-1].get_body(("plain",)).get_content()
    )


def test_a_private_incident_tells_only_groups_the_manager_confirms(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    smtp: SmtpServer,
) -> None:
    incident = declare(
        bot,
        driver,
        slack,
        user=workspace.alice,
        channel=workspace.general,
        title="Security issue",
        severity="sev1",
        private=True,
    )
    channel = must(incident.channel_id)
    slack.wait_for(lambda: bool(notices(bot)))
    assert {n.state for n in notices(bot)} == {"held"}
    comms = driver.slash_command("comms", user=workspace.alice, channel=channel)
    assert "waiting for the incident manager" in str(response_to(slack, comms.response_url))
    driver.slash_command("notify management", user=workspace.alice, channel=channel)
    slack.wait_for(lambda: len(mails(smtp, "cto@acme.example")) == 1, timeout=10)
    [mail] = mails(smtp, "cto@acme.example")
    assert "declared" in mail["Subject"]  # the declaration that waited, not a second notice
    states = {(n.recipient, n.state) for n in notices(bot)}
    assert ("pm@acme.example", "held") in states and (workspace.carol, "held") in states
    assert slack.dms(workspace.carol) == []
    assert len(smtp.messages) == 1
