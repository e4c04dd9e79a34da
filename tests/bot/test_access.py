"""The Slack side of permissions against the emulator (real HTTP, the real WebClient): who is
in a channel, who is an admin (user groups expanded), which incidents a list may show, and
owners' reminders that must not reach someone outside a private incident."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time

import pytest
from slack_sdk import WebClient

from bot import action_items, followups, incidents
from bot.core.delivery import Claimed
from bot.core.errors import InvalidInput
from bot.followups.claims import FollowUpSource
from bot.followups.policy import FollowUpPolicy, Kind
from bot.slack.access import REFRESH_SECONDS, SlackAccess
from bot.slack.delivery import Outcome, Runner
from bot.slack.followup_sender import post, visible_only
from bot.slack.services import Services
from playground.emulator import SlackEmulator
from storage import Database
from tests.conftest import Workspace
from tests.harness import BOT_TOKEN, bot_settings

pytestmark = pytest.mark.scenario


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def services(slack: SlackEmulator, db: Database, **overrides: object) -> Services:
    settings = bot_settings(slack, db.url, **overrides)
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url, retry_handlers=[])
    return Services(settings=settings, db=db, slack=client)


def new_incident(db: Database, channel: str | None, *, private: bool, by: str) -> int:
    with db.session() as session:
        incident, _ = incidents.declare(
            session,
            title="Queue stuck",
            severity="sev2",
            declared_by=by,
            declare_key=uuid.uuid4().hex,
            private=private,
        )
        incident.channel_id = channel
        session.add(incident)
        assert incident.id is not None
        return incident.id


def test_a_yes_is_reused_and_a_no_is_asked_again(
    slack: SlackEmulator, workspace: Workspace, db: Database
) -> None:
    clock = Clock()
    access = SlackAccess(services(slack, db, access_cache_seconds=30), clock=clock)
    room = slack.add_channel("inc-1-queue", private=True, members=[workspace.alice])
    members = access.members(room)
    assert workspace.alice in members and workspace.carol not in members
    assert len(slack.calls_to("conversations.members")) == 1  # the "no" came from that answer
    # Carol is invited: a moment later she is let in, without waiting for the cache.
    slack.add_members(room, workspace.carol)
    clock.now += REFRESH_SECONDS + 0.1
    assert workspace.carol in access.members(room)
    assert len(slack.calls_to("conversations.members")) == 2
    # Alice leaves: her "yes" is reused until it is ACCESS_CACHE_SECONDS old.
    slack.remove_members(room, workspace.alice)
    assert workspace.alice in access.members(room)
    clock.now += 31
    assert workspace.alice not in access.members(room)
    # A channel the bot cannot read: nobody is in it (private stays closed).
    slack.fail("conversations.members", error="channel_not_found", times=2)
    assert workspace.carol not in access.members("C0UNKNOWN1")


def test_admins_are_listed_people_and_members_of_listed_groups(
    slack: SlackEmulator, workspace: Workspace, db: Database
) -> None:
    group = slack.add_usergroup("incident-leads", [workspace.carol])
    gone = "S0GONE0001"
    access = SlackAccess(
        services(slack, db, incident_admins=f"{workspace.bob},{gone},{group}"), clock=Clock()
    )
    admins = access.admins()
    assert workspace.bob in admins
    assert not slack.calls_to("usergroups.users.list")  # listed by id: Slack is not asked
    assert workspace.carol in admins
    assert workspace.alice not in admins
    asked = [call.params.get("usergroup") for call in slack.calls_to("usergroups.users.list")]
    assert set(asked) == {gone, group}  # the group Slack does not know counts as nobody


def test_lists_show_private_incidents_to_their_members_and_admins_only(
    slack: SlackEmulator, workspace: Workspace, db: Database
) -> None:
    public_room = slack.add_channel("inc-1-api", members=[workspace.alice])
    private_room = slack.add_channel("inc-2-breach", private=True, members=[workspace.bob])
    secret = new_incident(db, private_room, private=True, by=workspace.bob)
    public = new_incident(db, public_room, private=False, by=workspace.alice)
    unset = new_incident(db, None, private=True, by=workspace.alice)  # setup not finished
    clock = Clock()
    access = SlackAccess(services(slack, db, incident_admins=workspace.alice), clock=clock)
    with db.read() as session:
        views = incidents.list_incidents(session, include_resolved=True)

    def ids(found: list[incidents.IncidentView]) -> set[int | None]:
        return {v.incident.id for v in found}

    assert ids(access.visible(workspace.carol, views)) == {public}
    assert ids(access.visible(workspace.bob, views)) == {public, secret}
    assert ids(access.visible(workspace.alice, views)) == {public, secret, unset}  # an admin
    assert ids(access.respondable(workspace.carol, views)) == set()
    slack.add_members(public_room, workspace.carol)
    clock.now += REFRESH_SECONDS + 0.1
    assert ids(access.respondable(workspace.carol, views)) == {public}  # a "no" is asked again
    assert ids(access.respondable(workspace.bob, views)) == {secret}
    assert access.may_see(workspace.bob, secret) and not access.may_see(workspace.carol, secret)
    assert access.may_see(workspace.carol, public) and not access.may_see(workspace.carol, 999)
    with pytest.raises(
        InvalidInput, match="is not in the channel of incident #1, which is private"
    ):
        access.check_owner(workspace.carol, secret, field="owner")
    access.check_owner(workspace.bob, secret, field="owner")


def test_an_owner_outside_a_private_incident_gets_no_reminder(
    slack: SlackEmulator, workspace: Workspace, db: Database
) -> None:
    room = slack.add_channel("inc-1-breach", private=True, members=[workspace.bob])
    secret = new_incident(db, room, private=True, by=workspace.bob)
    policy = FollowUpPolicy(remind_at=time(0, 0))
    now = datetime.now(UTC)
    with db.session() as session:
        for owner in (workspace.carol, workspace.bob):
            item, _ = action_items.create(
                session,
                incident_id=secret,
                text=f"Rotate the keys ({owner})",
                owner=owner,
                created_by=workspace.bob,
                via=action_items.Via.COMMAND,
                due_on=now.date(),
                policy=policy,
                now=now,
            )
            assert item.id is not None
            followups.plan(
                session, kind=Kind.ACTION_ITEM, subject_id=item.id, policy=policy, now=now
            )
    svc = services(slack, db)
    send = visible_only(post(svc.slack), svc.access)
    runner = Runner(db, FollowUpSource(policy), send, owner="replica-a", clock=lambda: now)
    with db.session() as session:
        from bot.core import delivery

        claimed: list[Claimed] = delivery.claim(
            session, FollowUpSource(policy), owner="replica-a", now=now
        )
    outcomes = sorted(runner.send(c) for c in claimed)
    assert outcomes == sorted([Outcome.GAVE_UP, Outcome.SENT])
    assert not slack.dms(workspace.carol)
    assert any("Rotate the keys" in m["text"] for m in slack.dms(workspace.bob))
