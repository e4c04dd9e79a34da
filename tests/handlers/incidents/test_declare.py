"""Declaring through Slack: form, channel, invites, topic, card, announcement, faults."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlmodel import select

from handlers.incidents import declare as declare_handlers
from playground.emulator import SlackDriver, SlackEmulator
from storage.models import Incident
from tests.conftest import Workspace
from tests.harness import RunningBot
from tests.scenarios import declare, must, open_declare_form, submit_declare, wait_for_setup

pytestmark = pytest.mark.scenario


def _incidents(bot: RunningBot) -> list[Incident]:
    with bot.runtime.services.db.session() as session:
        return list(session.exec(select(Incident)).all())


def test_declare_builds_channel_card_topic_and_checklist(
    bot: RunningBot, driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    view = open_declare_form(
        driver, slack, user=workspace.alice, channel=workspace.general, text="Checkout is down"
    )
    title_input = view["blocks"][0]["element"]
    assert title_input["initial_value"] == "Checkout is down"
    assert title_input["max_length"] == 150
    severity = next(b for b in view["blocks"] if b["block_id"] == "severity")
    assert [o["value"] for o in severity["element"]["options"]] == ["sev1", "sev2", "sev3", "sev4"]
    assert all(o.get("description") for o in severity["element"]["options"])
    result = submit_declare(
        driver,
        view,
        user=workspace.alice,
        title="Checkout is down",
        severity="sev2",
        summary="Payments fail with 500",
        impact="All EU customers",
        manager=workspace.bob,
    )
    assert result.status == 200 and result.view_errors == []
    assert slack.current_view(workspace.alice) is None  # the modal closed
    incident = wait_for_setup(bot)
    assert incident.setup_state == "complete"
    assert (incident.number, incident.status, incident.severity) == (1, "investigating", "sev2")
    channel = slack.channel_by_name("inc-1-checkout-is-down")
    assert channel is not None and channel["id"] == must(incident.channel_id)
    assert not channel["is_private"]
    assert {workspace.alice, workspace.bob} <= set(slack.members(channel["id"]))
    assert channel["topic"]["value"] == f"SEV2 | Investigating | IM: <@{workspace.bob}>"
    pins = slack.pins(channel["id"])
    assert len(pins) == 1 and pins[0]["ts"] == must(incident.card_ts)
    card = str(pins[0]["blocks"])
    for fact in (
        "Checkout is down",
        "SEV2",
        "Investigating",
        workspace.bob,
        "Payments fail with 500",
        "All EU customers",
        "Started",
    ):
        assert fact in card
    actions = [
        e["action_id"] for b in pins[0]["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert actions == [
        "incident_post_update",
        "incident_set_status",
        "incident_set_severity",
        "incident_assign_role",
        "incident_resolve",
    ]
    checklist = slack.dms(workspace.bob)
    assert len(checklist) == 1
    for item in ("Acknowledge", "status page", "Email the managers", "post-mortem"):
        assert item in checklist[0]["text"]
    assert incident.declared_at is not None and incident.resolved_at is None


def test_global_shortcut_and_home_button_open_the_form(
    bot: RunningBot, driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    driver.global_shortcut("declare_incident", user=workspace.carol)
    slack.wait_for("views.open")
    view = slack.modal(workspace.carol)
    assert view is not None and view["callback_id"] == "declare_modal"
    manager = next(b for b in view["blocks"] if b["block_id"] == "manager")
    assert manager["element"]["initial_user"] == workspace.carol

    driver.app_home_opened(workspace.bob)
    slack.wait_for("views.publish")
    home = slack.home(workspace.bob)
    assert home is not None
    driver.block_actions("home_declare", user=workspace.bob, view=home)
    slack.wait_for("views.open", count=2)
    assert slack.modal(workspace.bob)["callback_id"] == "declare_modal"


def test_message_shortcut_prefills_summary_and_link(
    bot: RunningBot, driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    ts = driver.user_posts(
        workspace.carol, workspace.general, "Login page returns 502 for everyone"
    )
    message = must(slack.message(workspace.general, ts))
    driver.message_shortcut(
        "declare_incident_from_message",
        user=workspace.alice,
        channel=workspace.general,
        message=message,
    )
    slack.wait_for("views.open")
    view = slack.modal(workspace.alice)
    summary = next(b for b in view["blocks"] if b["block_id"] == "summary")
    prefill = summary["element"]["initial_value"]
    assert "Login page returns 502 for everyone" in prefill
    permalink = slack.calls_to("chat.getPermalink")[-1].response["permalink"]
    assert permalink in prefill
    submit_declare(driver, view, user=workspace.alice, title="Login broken", summary=prefill)
    incident = wait_for_setup(bot)
    assert (incident.origin_channel_id, incident.origin_message_ts) == (workspace.general, ts)
    assert incident.origin_permalink == permalink


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"title": "   "}, "title", "Give the incident a title"),
        ({"title": "x" * 151}, "title", "150 characters"),
        ({"title": "Valid", "severity": None}, "severity", "Choose a severity"),
    ],
)
def test_invalid_form_gets_inline_errors_and_creates_nothing(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    values: dict,
    field: str,
    message: str,
) -> None:
    view = open_declare_form(driver, slack, user=workspace.alice, channel=workspace.general)
    result = submit_declare(driver, view, user=workspace.alice, **values)
    assert result.status == 200
    assert result.json["response_action"] == "errors"
    assert message in result.json["errors"][field]
    assert slack.current_view(workspace.alice) is not None  # the form stays open
    assert _incidents(bot) == []
    assert slack.calls_to("conversations.create") == []


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        (":fire: Café crème :fire: outage!", "inc-1-cafe-creme-outage"),
        ("!!! ??? ...", "inc-1"),
        ("データベース障害", "inc-1"),
        ("a" * 150, "inc-1-" + "a" * 74),
    ],
)
def test_channel_names_for_awkward_titles(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    title: str,
    expected: str,
) -> None:
    incident = declare(
        bot, driver, slack, user=workspace.alice, channel=workspace.general, title=title
    )
    assert incident.setup_state == "complete"
    assert incident.channel_name == expected
    assert slack.channel_by_name(expected) is not None


def test_200_character_title_is_refused_but_150_works(
    bot: RunningBot, driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    view = open_declare_form(
        driver, slack, user=workspace.alice, channel=workspace.general, text="z" * 200
    )
    assert len(view["blocks"][0]["element"]["initial_value"]) == 150
    result = submit_declare(driver, view, user=workspace.alice, title="z" * 200)
    assert result.json["response_action"] == "errors"


def test_name_taken_twice_picks_a_free_name(
    bot: RunningBot, driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    slack.add_channel("inc-1-database-is-down")
    slack.add_channel("inc-1-database-is-down-2")
    incident = declare(bot, driver, slack, user=workspace.alice, channel=workspace.general)
    assert incident.setup_state == "complete"
    assert incident.channel_name == "inc-1-database-is-down-3"
    tried = [c.params["name"] for c in slack.calls_to("conversations.create")]
    assert tried == [
        "inc-1-database-is-down",
        "inc-1-database-is-down-2",
        "inc-1-database-is-down-3",
    ]
    assert [c.response.get("error") for c in slack.calls_to("conversations.create")][:2] == [
        "name_taken",
        "name_taken",
    ]


def test_double_submitted_form_creates_one_incident_and_one_channel(
    bot: RunningBot, driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    view = open_declare_form(driver, slack, user=workspace.alice, channel=workspace.general)
    from tests.scenarios import declare_values

    values = declare_values(title="Double click", manager=workspace.alice)
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(
            pool.map(lambda _: driver.view_submission(view, values, user=workspace.alice), range(3))
        )
    assert all(r.status == 200 for r in results)
    wait_for_setup(bot)  # incident #1: the submissions that lost drew no number
    assert len(_incidents(bot)) == 1
    assert len([c for c in slack.calls_to("conversations.create") if c.status == 200]) == 1
    assert len(slack.calls_to("conversations.create")) == 1


def test_rate_limited_post_is_retried(
    bot: RunningBot, driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    slack.fail("chat.postMessage", status=429, retry_after=1, times=1)
    incident = declare(bot, driver, slack, user=workspace.alice, channel=workspace.general)
    assert incident.setup_state == "complete"
    posts = slack.calls_to("chat.postMessage")
    assert posts[0].status == 429 and posts[1].status == 200
    assert slack.pins(must(incident.channel_id))[0]["ts"] == must(incident.card_ts)


def test_slack_errors_while_creating_the_channel_are_retried_until_it_works(
    bot: RunningBot, driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    slack.fail("conversations.create", status=500, times=2)
    view = open_declare_form(driver, slack, user=workspace.alice, channel=workspace.general)
    submit_declare(driver, view, user=workspace.alice, title="Database is down")
    incident = wait_for_setup(bot, timeout=20)  # back-off: 2 s, then 4 s
    assert incident.setup_state == "complete" and incident.setup_error is None
    creates = slack.calls_to("conversations.create")
    assert [c.status for c in creates] == [500, 500, 200]
    assert incident.channel_name == "inc-1-database-is-down"  # the same name, no second channel
    assert slack.pins(must(incident.channel_id))
    assert not any("did not finish" in m["text"] for m in slack.dms(workspace.alice))


def test_a_refused_channel_fails_the_setup_and_retry_finishes_it(
    bot: RunningBot, driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    slack.fail("conversations.create", error="restricted_action")
    incident = declare(bot, driver, slack, user=workspace.alice, channel=workspace.general)
    assert incident.setup_state == "failed"
    assert incident.channel_id is None
    assert incident.setup_error == (
        "Creating the incident channel failed: Slack answered `restricted_action`."
    )
    notice = slack.wait_for(lambda: slack.dms(workspace.alice))[-1]
    assert "restricted_action" in notice["text"] and "Retry setup" in str(notice["blocks"])
    time.sleep(0.5)  # given up: nothing is retried on its own, nothing needing the channel ran
    assert len(slack.calls_to("conversations.create")) == 1
    assert slack.calls_to("conversations.setTopic") == slack.calls_to("chat.update") == []
    dm_channel = slack.dm_channel_id(workspace.alice)
    driver.block_actions(
        "incident_retry_setup", user=workspace.alice, message=notice, channel=dm_channel
    )
    slack.wait_for(lambda: wait_for_setup(bot).setup_state == "complete", timeout=10)
    incidents = _incidents(bot)
    assert len(incidents) == 1 and incidents[0].channel_name == "inc-1-database-is-down"
    assert slack.pins(must(incidents[0].channel_id))
    assert [c.response.get("ok") for c in slack.calls_to("conversations.create")] == [False, True]
    retried = must(slack.message(dm_channel, notice["ts"]))
    assert "Retrying the setup of incident #1" in retried["text"]
    assert not [m for m in slack.dms(workspace.alice) if "did not finish" in m["text"]]


def test_private_incident_gets_private_channel_and_no_announcement(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace
) -> None:
    announce = slack.add_channel("incidents")
    bot = start_bot(incident_broadcast_channel="#incidents")
    driver = bot.driver(slack)
    incident = declare(
        bot,
        driver,
        slack,
        user=workspace.alice,
        channel=workspace.general,
        title="Secret breach",
        private=True,
    )
    assert incident.private and incident.setup_state == "complete"
    assert slack.channel(must(incident.channel_id))["is_private"]
    assert slack.messages(announce) == []
    assert incident.broadcast_ts is None


def test_announcement_is_one_card_updated_in_place(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace
) -> None:
    announce = slack.add_channel("incidents")
    bot = start_bot(incident_broadcast_channel="#incidents")
    driver = bot.driver(slack)
    incident = declare(bot, driver, slack, user=workspace.alice, channel=workspace.general)
    assert incident.broadcast_channel_id == announce
    assert len(slack.messages(announce)) == 1
    driver.slash_command(
        "status identified", user=workspace.alice, channel=must(incident.channel_id)
    )
    driver.slash_command("severity sev1", user=workspace.alice, channel=must(incident.channel_id))
    # The two commands are handled concurrently: wait until the card shows both changes.
    slack.wait_for(
        lambda: all(
            word in str(slack.message(announce, must(incident.broadcast_ts)))
            for word in ("SEV1", "Identified")
        )
    )
    messages = slack.messages(announce)
    assert len(messages) == 1
    assert "Identified" in str(messages[0]["blocks"]) and "SEV1" in str(messages[0]["blocks"])

    def updates() -> list:
        return [c for c in slack.calls_to("chat.update") if c.params["channel"] == announce]

    # One refresh per change, or fewer: refreshes pending at once skip to the newest.
    slack.wait_for(lambda: len(updates()) >= 1)
    assert len(slack.messages(announce)) == 1
    assert all(c.params["ts"] == must(incident.broadcast_ts) for c in updates())


def _refuse_incident_inserts(bot: RunningBot) -> None:
    """Make the database refuse new incidents (a full disk, a broken replica, ...)."""
    db = bot.runtime.services.db
    with db.engine.begin() as conn:
        if db.is_sqlite:
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON incident "
                "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse() RETURNS trigger AS "
                "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$ LANGUAGE plpgsql"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON incident "
                "FOR EACH ROW EXECUTE FUNCTION refuse()"
            )


def _refuse_the_first_incident_insert(bot: RunningBot) -> Callable[[], None]:
    """The database refuses the next incident, then takes them again; returns what ends
    the refusal on SQLite (PostgreSQL counts with a sequence, which no rollback undoes)."""
    db = bot.runtime.services.db
    if db.is_sqlite:
        _refuse_incident_inserts(bot)

        def allow() -> None:
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DROP TRIGGER refuse")

        return allow
    with db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE SEQUENCE refusals")
        conn.exec_driver_sql(
            "CREATE FUNCTION refuse_once() RETURNS trigger AS $$ BEGIN "
            "IF nextval('refusals') = 1 THEN RAISE EXCEPTION 'disk full'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER refuse BEFORE INSERT ON incident "
            "FOR EACH ROW EXECUTE FUNCTION refuse_once()"
        )
    return lambda: None


def test_a_database_failure_after_the_form_closed_is_tried_again(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The form closes once the submission is kept; a database that refuses the incident
    for a moment delays it, nothing more."""
    monkeypatch.setattr(declare_handlers, "RECORD_BACKOFF", 0.3)
    view = open_declare_form(driver, slack, user=workspace.alice, channel=workspace.general)
    allow = _refuse_the_first_incident_insert(bot)
    result = submit_declare(driver, view, user=workspace.alice, title="Search is slow")
    assert result.status == 200 and not result.body  # closed: the submission is kept
    assert slack.current_view(workspace.alice) is None
    time.sleep(0.2)  # the first attempt fails meanwhile
    allow()
    # (Its number may not be 1: on PostgreSQL the refused attempt used up a number.)
    slack.wait_for(lambda: [i.setup_state for i in _incidents(bot)] == ["complete"], timeout=15)
    [incident] = _incidents(bot)
    assert incident.title == "Search is slow" and incident.channel_id
    assert not any("could not be recorded" in m.get("text", "") for m in slack.dms(workspace.alice))


def test_a_database_that_keeps_refusing_tells_the_declarer_what_they_typed(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(declare_handlers, "RECORD_BACKOFF", 0.01)
    view = open_declare_form(driver, slack, user=workspace.alice, channel=workspace.general)
    _refuse_incident_inserts(bot)
    result = submit_declare(
        driver, view, user=workspace.alice, title="Search is slow", summary="p99 at 9 s"
    )
    assert result.status == 200 and not result.body

    def told() -> str | None:
        texts = [m.get("text", "") for m in slack.dms(workspace.alice)]
        return next((t for t in texts if "could not be recorded" in t), None)

    slack.wait_for(lambda: told() is not None, timeout=10)
    message = must(told())
    assert "nothing was created" in message and "Declare it again" in message
    assert "title: Search is slow" in message and "summary: p99 at 9 s" in message
    reference = message.split("reference ")[1].split(")")[0]
    assert len(reference) == 8
    assert _incidents(bot) == []
    assert slack.calls_to("conversations.create") == []


def test_concurrent_changes_leave_the_card_showing_the_latest_state(
    bot: RunningBot, driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    """Many changes at once: whatever order their refreshes run in, the last one is current."""
    incident = declare(bot, driver, slack, user=workspace.alice, channel=workspace.general)
    channel = must(incident.channel_id)
    commands = ["status identified", "severity sev1", "severity sev3", "status monitoring"] * 3
    commands += ["severity sev4"]
    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        list(
            pool.map(
                lambda text: driver.slash_command(text, user=workspace.alice, channel=channel),
                commands,
            )
        )

    def shown_and_stored() -> tuple[str, str, str]:
        with bot.runtime.services.db.read() as session:
            current = session.get(Incident, incident.id)
        assert current is not None
        stored = f"({current.severity.upper()}, {current.status.capitalize()})"
        card = must(slack.message(channel, must(incident.card_ts)))["text"]
        return stored, card, slack.channel(channel)["topic"]["value"]

    def settled() -> bool:
        stored, card, topic = shown_and_stored()
        return card.endswith(stored) and topic.startswith(stored[1:-1].replace(", ", " | "))

    # Stable for a second: every command has been handled and every refresh has landed.
    deadline = time.monotonic() + 20
    while True:
        if settled():
            time.sleep(1.0)
            if settled():
                break
        assert time.monotonic() < deadline, f"card and topic never settled: {shown_and_stored()}"
        time.sleep(0.05)
