"""Post-mortems and action items end to end: the real bot, the Slack emulator, both databases."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from blocks.action_items import key_of
from bot import followups
from bot.core.errors import ConfigError
from bot.followups.policy import FollowUpPolicy, Kind
from bot.slack.followup_sender import FollowUpTicker
from playground.emulator import SlackDriver, SlackEmulator
from storage.models import Incident
from storage.models_postmortems import ActionItem, PostMortem
from tests.conftest import Workspace
from tests.harness import RunningBot, bot_settings, response_to
from tests.scenarios import declare

pytestmark = pytest.mark.scenario

SECTIONS = ["Summary", "Impact", "Root Cause", "Resolution", "Timeline", "Action Items"]


# -- steps ---------------------------------------------------------------------------------


def open_view(slack: SlackEmulator, user: str, before: int, callback_id: str) -> dict[str, Any]:
    slack.wait_for("views.open", count=before + 1)
    view = slack.current_view(user)
    assert view is not None and view["callback_id"] == callback_id, view
    return view


def post_update(
    driver: SlackDriver, slack: SlackEmulator, *, user: str, channel: str, text: str, status: str
) -> None:
    before = len(slack.calls_to("views.open"))
    driver.slash_command(f"update {text}", user=user, channel=channel)
    view = open_view(slack, user, before, "update_modal")
    values = {"message": {"message": text}, "status": {"status": status}}
    assert driver.view_submission(view, values, user=user).status == 200


def resolve(
    driver: SlackDriver, slack: SlackEmulator, *, user: str, channel: str, resolution: str
) -> None:
    before = len(slack.calls_to("views.open"))
    driver.slash_command("resolve", user=user, channel=channel)
    view = open_view(slack, user, before, "resolve_modal")
    values = {"resolution": {"resolution": resolution}}
    assert driver.view_submission(view, values, user=user).status == 200


def file_messages(slack: SlackEmulator, channel: str) -> list[dict[str, Any]]:
    return [m for m in slack.messages(channel) if m.get("files")]


def documents(
    slack: SlackEmulator, channel: str, count: int = 1, timeout: float = 10
) -> tuple[str, str]:
    """The post-mortem and customer draft of the `count`-th upload (waits for it)."""
    slack.wait_for(lambda: len(file_messages(slack, channel)) >= count, timeout=timeout)
    files = file_messages(slack, channel)[count - 1]["files"]
    by_name = {f["name"]: slack.file_content(f["id"]).decode() for f in files}
    internal = next(v for k, v in by_name.items() if k.endswith("-postmortem.md"))
    customer = next(v for k, v in by_name.items() if k.endswith("-customer-draft.md"))
    return internal, customer


def section(document: str, name: str) -> str:
    """The text of one `## name` section."""
    match = re.search(rf"^## {re.escape(name)}\n(.*?)(?=^## |\Z)", document, re.S | re.M)
    assert match is not None, f"no section {name}"
    return match.group(1)


def control_message(slack: SlackEmulator, channel: str) -> dict[str, Any]:
    """The latest message with the post-mortem's buttons (waits for one)."""

    def found() -> list[dict[str, Any]]:
        return [m for m in slack.messages(channel) if "postmortem_edit" in str(m.get("blocks"))]

    return slack.wait_for(found)[-1]


def incident_row(bot: RunningBot, incident_id: int) -> Incident:
    with bot.runtime.services.db.session() as session:
        found = session.get(Incident, incident_id)
    assert found is not None
    return found


def postmortem_row(bot: RunningBot, incident_id: int) -> PostMortem | None:
    with bot.runtime.services.db.session() as session:
        return session.exec(select(PostMortem).where(PostMortem.incident_id == incident_id)).first()


def items(bot: RunningBot) -> list[ActionItem]:
    with bot.runtime.services.db.session() as session:
        return list(session.exec(select(ActionItem).order_by(ActionItem.id)).all())  # type: ignore[arg-type]


@pytest.fixture
def declare_fields(workspace: Workspace) -> dict[str, Any]:
    return {
        "title": "Checkout is failing",
        "summary": "Payments fail at checkout for EU customers.",
        "impact": "About 30% of EU checkouts failed.",
        "manager": workspace.bob,
    }


# -- the post-mortem -------------------------------------------------------------------------


def test_resolve_drafts_a_postmortem_with_the_incidents_facts_in_order(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> None:
    channel = incident.channel_id
    assert channel is not None and incident.id is not None
    driver.slash_command(
        f"role comms <@{workspace.carol}|carol>", user=workspace.bob, channel=channel
    )
    post_update(
        driver,
        slack,
        user=workspace.bob,
        channel=channel,
        text="Found it: an expired certificate on the payment gateway",
        status="identified",
    )
    driver.slash_command("note Renewing the certificate now", user=workspace.bob, channel=channel)
    pinned = driver.user_posts(workspace.carol, channel, "Customers report card errors in FR")
    driver.user_reacts(workspace.bob, channel, pinned, "pushpin")
    slack.wait_for(lambda: "memo" in str(slack.reactions(channel, pinned)))
    driver.slash_command(
        f"action Alert on certificate expiry <@{workspace.carol}|carol>",
        user=workspace.bob,
        channel=channel,
    )
    slack.wait_for(lambda: len(items(bot)) == 1)
    resolve(driver, slack, user=workspace.bob, channel=channel, resolution="Renewed the cert")

    internal, customer = documents(slack, channel)
    headings = re.findall(r"^## (.+)$", internal, re.M)
    assert headings == SECTIONS
    resolved = incident_row(bot, incident.id)
    assert resolved.resolved_at is not None
    took = resolved.resolved_at - resolved.declared_at
    # Facts: title, severity, roles, participants, lifecycle, durations.
    assert "# Post-mortem: #1 Checkout is failing" in internal
    assert "| **Severity** | SEV2" in internal
    assert re.search(r"\| \*\*Incident manager\*\* \| bob", internal, re.I)
    assert re.search(r"\| \*\*Communications lead\*\* \| carol", internal, re.I)
    assert re.search(r"\| \*\*Participants\*\* \| .*alice.*bob", internal, re.I)
    from bot.postmortems.docs import duration

    assert f"| **Duration** | {duration(took.total_seconds())} |" in internal
    assert "Payments fail at checkout for EU customers." in section(internal, "Summary")
    assert "About 30% of EU checkouts failed." in section(internal, "Impact")
    # The root cause is not invented: a marked prompt, with what the update said as a hint.
    root = section(internal, "Root Cause")
    assert "TO FILL IN" in root and "expired certificate" in root
    assert "Renewed the cert" in section(internal, "Resolution")
    timeline = section(internal, "Timeline")
    for fact in ("Identified", "Resolved", "Renewing the certificate now", "card errors in FR"):
        assert fact in timeline, fact
    assert "expired certificate on the payment gateway" in timeline  # the update
    actions = section(internal, "Action Items")
    assert re.search(
        r"- \[ \] \*\*AI-\d+\*\* Alert on certificate expiry .*carol.*open", actions, re.I
    )
    # Owner (the incident manager) and due date, with the buttons, under the files.
    pm = postmortem_row(bot, incident.id)
    assert pm is not None and pm.due_on is not None and pm.owner is None
    assert pm.due_on > resolved.resolved_at.date()
    message = control_message(slack, channel)
    assert f"Owner <@{workspace.bob}>" in str(message["blocks"])
    assert "postmortem_complete" in str(message["blocks"])
    assert "Incident report" in customer


def test_the_edit_form_flows_into_the_document_and_postmortem_reposts_the_latest(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> None:
    channel = incident.channel_id
    assert channel is not None and incident.id is not None
    resolve(driver, slack, user=workspace.bob, channel=channel, resolution="Rolled back")
    documents(slack, channel)
    before = len(slack.calls_to("views.open"))
    driver.block_actions(
        "postmortem_edit",
        user=workspace.bob,
        message=control_message(slack, channel),
        channel=channel,
    )
    form = open_view(slack, workspace.bob, before, "postmortem_modal")
    prefilled = {b.get("block_id"): b.get("element", {}) for b in form["blocks"]}
    assert prefilled["summary"]["initial_value"] == "Payments fail at checkout for EU customers."
    assert prefilled["impact"]["initial_value"] == "About 30% of EU checkouts failed."
    assert prefilled["resolution"]["initial_value"] == "Rolled back"
    assert prefilled["owner"]["initial_user"] == workspace.bob
    values = {
        "summary": {"summary": "Checkout failed for 40 minutes."},
        "impact": {"impact": "1,200 failed payments."},
        "root_cause": {"root_cause": "A certificate expired; nothing watched its expiry."},
        "resolution": {"resolution": "Renewed the certificate and restarted the gateway."},
        "owner": {"owner": workspace.carol},
    }
    result = driver.view_submission(form, values, user=workspace.bob)
    assert result.status == 200 and not (result.json or {}).get("errors")
    internal, _ = documents(slack, channel, count=2)
    assert section(internal, "Summary").strip() == "Checkout failed for 40 minutes."
    assert section(internal, "Impact").strip() == "1,200 failed payments."
    assert "nothing watched its expiry" in section(internal, "Root Cause")
    assert "TO FILL IN" not in section(internal, "Root Cause")
    assert "restarted the gateway" in section(internal, "Resolution")
    assert re.search(r"\| \*\*Post-mortem owner\*\* \| carol", internal, re.I)
    # /incident postmortem fetches the latest again, with the same text.
    again = driver.slash_command("postmortem", user=workspace.alice, channel=channel)
    assert "version 2" in response_to(slack, again.response_url)["text"]
    latest, _ = documents(slack, channel, count=3)
    assert latest == internal


def test_mark_complete_stops_the_owners_reminder(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> None:
    channel = incident.channel_id
    assert channel is not None and incident.id is not None
    resolve(driver, slack, user=workspace.bob, channel=channel, resolution="Rolled back")
    documents(slack, channel)
    pm = postmortem_row(bot, incident.id)
    assert pm is not None and pm.due_on is not None
    services = bot.runtime.services
    policy = FollowUpPolicy.from_settings(services.settings)
    late = policy.slot(pm.due_on) + timedelta(minutes=1)
    ticker = FollowUpTicker(services, owner="test-replica", clock=lambda: late)
    assert ticker.tick()["sent"] == 1
    [reminder] = [m for m in slack.dms(workspace.bob) if key_of(m) is not None]
    assert "is due today" in reminder["text"]
    assert ticker.tick()["sent"] == 0  # once a day at most
    driver.block_actions(
        "postmortem_complete",
        user=workspace.bob,
        message=reminder,
        channel=slack.dm_channel_id(workspace.bob),
    )
    slack.wait_for(lambda: (postmortem_row(bot, incident.id or 0) or pm).completed_at)
    internal, _ = documents(slack, channel, count=2)
    assert "| **Post-mortem state** | Complete" in internal
    next_day = FollowUpTicker(
        services, owner="test-replica", clock=lambda: late + timedelta(days=1)
    )
    assert next_day.tick()["sent"] == 0
    with services.db.session() as session:
        assert len(followups.deliveries(session, kind=Kind.POSTMORTEM)) == 1


def test_a_custom_template_is_used(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace, tmp_path: Path
) -> None:
    template = tmp_path / "ours.md.j2"
    template.write_text(
        "# Our review of {{ incident.title }}\n\n"
        "Severity {{ incident.severity }}, {{ incident.duration | duration }}.\n"
        "{% for item in action_items %}* {{ item.text }}\n{% endfor %}"
    )
    bot = start_bot(postmortem_template=str(template))
    driver = bot.driver(slack)
    incident = declare(bot, driver, slack, user=workspace.alice, channel=workspace.general)
    channel = incident.channel_id
    assert channel is not None
    driver.slash_command("action Add a replica", user=workspace.alice, channel=channel)
    slack.wait_for(lambda: len(items(bot)) == 1)
    result = driver.slash_command("postmortem", user=workspace.alice, channel=channel)
    assert result.status == 200
    internal, customer = documents(slack, channel)
    assert internal.startswith("# Our review of Database is down\n\nSeverity SEV2, ")
    assert "* Add a replica" in internal
    assert "Incident report" in customer  # the customer-facing draft keeps its own template


def test_a_bad_template_stops_start_up_naming_the_key(
    slack: SlackEmulator, db_url: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="POSTMORTEM_TEMPLATE"):
        bot_settings(slack, db_url, postmortem_template=str(tmp_path / "missing.md.j2"))
    broken = tmp_path / "broken.md.j2"
    broken.write_text("{% for x in %}")
    with pytest.raises(ConfigError, match=r"POSTMORTEM_TEMPLATE.*line 1"):
        bot_settings(slack, db_url, postmortem_template=str(broken))
    unknown = tmp_path / "unknown.md.j2"
    unknown.write_text("{{ no_such_fact }}")
    with pytest.raises(ConfigError, match=r"POSTMORTEM_TEMPLATE.*no_such_fact"):
        bot_settings(slack, db_url, postmortem_template=str(unknown))


def test_the_customer_draft_names_no_people_or_channels(
    bot: RunningBot, driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    incident = declare(
        bot,
        driver,
        slack,
        user=workspace.alice,
        channel=workspace.general,
        title="Search is slow",
        impact=f"Searches took 20 s; <@{workspace.carol}> saw it first in <#{workspace.general}>.",
        manager=workspace.bob,
    )
    channel = incident.channel_id
    assert channel is not None and incident.channel_name
    post_update(
        driver,
        slack,
        user=workspace.bob,
        channel=channel,
        text=f"<@{workspace.alice}> found a missing index, see #{incident.channel_name}",
        status="identified",
    )
    driver.slash_command(
        f"action Alice and Bob add the index check <@{workspace.alice}|alice>",
        user=workspace.bob,
        channel=channel,
    )
    slack.wait_for(lambda: len(items(bot)) == 1)
    resolve(
        driver,
        slack,
        user=workspace.bob,
        channel=channel,
        resolution=f"Bob Baker added the index (<@{workspace.bob}>), https://x.slack.com/archives/{channel}/p1",
    )
    internal, customer = documents(slack, channel)
    assert "Alice Archer" in internal and "Bob Baker" in internal  # the internal one names people
    lowered = customer.lower()
    for person in ("alice", "bob", "carol", "archer", "baker", "chen"):
        assert person not in lowered, person
    for secret in (workspace.alice, workspace.bob, workspace.carol, workspace.general, channel):
        assert secret not in customer
    assert incident.channel_name not in customer and "#general" not in customer
    assert "slack.com" not in customer and "<@" not in customer and "<#" not in customer
    # It still tells the story, in the order a public post-mortem does.
    headings = re.findall(r"^## (.+)$", customer, re.M)
    assert headings == [
        "What happened",
        "What went wrong and why",
        "What we did to fix it",
        "What we are doing to prevent it from happening again",
        "Our apology",
    ]
    assert "sorry" in section(customer, "What happened") and "apologise" in customer
    assert "Searches took 20 s" in customer and "added the index" in customer
    assert "add the index check" in section(
        customer, "What we are doing to prevent it from happening again"
    )
