"""A declaration made behind a backlog of setups gets its channel within seconds.

A burst of declarations against a slow Slack leaves a backlog of setup steps. The outbox
claims what makes a channel usable (making it, inviting its people: `prompt` subscriptions)
before any other delivery (bot/outbox/claims.py), so a later declaration's channel is made
and its people are in it while most of the backlog still waits; the other steps of every
setup follow, oldest first. Taken oldest first only, the later declaration would get its
channel after every earlier setup. Through the real bot and the emulator, on both databases.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlmodel import col, select

from playground.emulator import SlackEmulator
from storage.models import Incident
from tests.harness import RunningBot
from tests.scenarios import open_declare_form, submit_declare

pytestmark = pytest.mark.scenario

BACKLOG = 48  # declarations submitted at once
LATENCY = 0.2  # seconds per Web API call: Slack answering slowly
LATE = "Late outage"


def _incidents(bot: RunningBot) -> list[Incident]:
    with bot.runtime.services.db.read() as session:
        return list(session.exec(select(Incident).order_by(col(Incident.number))).all())


def test_a_late_declaration_is_set_up_while_the_backlog_before_it_waits(
    start_bot: Any, slack: SlackEmulator
) -> None:
    users = [slack.add_user(f"responder{n}") for n in range(BACKLOG + 1)]
    general = slack.add_channel("general", members=users, is_general=True)
    slack.add_channel("incidents", members=users)
    bot = start_bot(
        incident_broadcast_channel="incidents",
        reminder_intervals="sev1=off,sev2=off,sev3=off,sev4=off",
        no_manager_nudge_after="off",
    )
    driver = bot.driver(slack)
    views = [
        open_declare_form(driver, slack, user=user, channel=general, text=f"Outage {n}")
        for n, user in enumerate(users)
    ]
    slack.set_latency(LATENCY)

    def submit(n: int) -> int:
        return submit_declare(driver, views[n], user=users[n], title=f"Outage {n}").status

    with ThreadPoolExecutor(max_workers=16) as pool:
        assert list(pool.map(submit, range(BACKLOG))) == [200] * BACKLOG
    deadline = time.monotonic() + 30
    while len(_incidents(bot)) < BACKLOG:  # every earlier declaration is recorded
        assert time.monotonic() < deadline, "the burst of declarations was not recorded"
        time.sleep(0.05)

    late_user = users[BACKLOG]
    started = time.monotonic()
    result = submit_declare(driver, views[BACKLOG], user=late_user, title=LATE)
    assert result.status == 200
    deadline = started + 60
    while True:
        found = _incidents(bot)
        late = [i for i in found if i.title == LATE and i.channel_id]
        if late and late_user in slack.members(str(late[0].channel_id)):
            break
        assert time.monotonic() < deadline, "the late declaration got no channel"
        time.sleep(0.05)
    took = time.monotonic() - started
    waiting = [i.number for i in found if i.title != LATE and i.setup_state != "complete"]
    # Oldest first only, every earlier setup would be complete (or in flight) by now.
    assert len(waiting) >= BACKLOG // 3, (
        f"the late declaration's channel took {took:.1f} s, behind all but {len(waiting)} "
        f"of {BACKLOG} earlier setups"
    )

    deadline = time.monotonic() + 90  # the backlog is set up too, each channel made once
    while True:
        found = _incidents(bot)
        if all(i.setup_state == "complete" for i in found):
            break
        assert time.monotonic() < deadline, [i.setup_state for i in found]
        time.sleep(0.2)
    assert len(found) == BACKLOG + 1
    made = [c.params["name"] for c in slack.calls_to("conversations.create") if c.response["ok"]]
    assert sorted(made) == sorted(str(i.channel_name) for i in found)
    for incident in found:
        pins = slack.pins(str(incident.channel_id))
        assert [m["ts"] for m in pins] == [incident.card_ts], f"#{incident.number}: cards"
