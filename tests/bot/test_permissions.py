"""The permission rules: for every rule, the wrong person is refused (with why and who may)
and the right person is not. Facts loaded from the database are checked on both backends."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date

import pytest

from bot import action_items, incidents, permissions, postmortems
from bot.core.vocabulary import Role
from bot.followups.policy import FollowUpPolicy
from bot.permissions import Admins, Holder, Permission, Policy, Subject, decide
from storage import Database

MANAGER, DECLARER, COMMS, SCRIBE = "U0MANAGER", "U0DECLARE", "U0COMMS01", "U0SCRIBE1"
MEMBER, OUTSIDER, ADMIN, OWNER = "U0MEMBER1", "U0OUTSIDE", "U0ADMIN01", "U0OWNER01"
ADMINS = frozenset({ADMIN})
ROLES = {Role.INCIDENT_MANAGER: MANAGER, Role.COMMS_LEAD: COMMS, Role.SCRIBE: SCRIBE}
IN_CHANNEL = frozenset({MANAGER, DECLARER, COMMS, SCRIBE, MEMBER, OWNER})


def subject(*, private: bool = False, owner: str | None = None, **changes: object) -> Subject:
    values: dict[str, object] = {
        "incident_id": 7,
        "number": 3,
        "private": private,
        "declared_by": DECLARER,
        "channel_id": "C0INCIDNT",
        "members": IN_CHANNEL,
        "roles": ROLES,
        "owner": owner,
    }
    values.update(changes)
    return Subject(**values)  # type: ignore[arg-type]


def allowed(permission: Permission, user: str, subj: Subject, policy: Policy = Policy()) -> bool:
    return decide(permission, user, subj, admins=ADMINS, policy=policy).allowed


# -- seeing and responding --------------------------------------------------------------


def test_everyone_sees_a_public_incident() -> None:
    for user in (OUTSIDER, MEMBER, ADMIN):
        assert permissions.can_see(user, subject(), admins=ADMINS)
    assert allowed(Permission.SEE, OUTSIDER, subject())


def test_only_members_and_admins_see_a_private_incident() -> None:
    private = subject(private=True)
    assert allowed(Permission.SEE, MEMBER, private) and allowed(Permission.SEE, ADMIN, private)
    refused = decide(Permission.SEE, OUTSIDER, private, admins=ADMINS, policy=Policy())
    assert not refused
    # The refusal says no more than a missing incident would.
    assert refused.message == permissions.unseen(7)
    assert "does not exist, or it is private" in refused.message and "#3" not in refused.message


def test_every_permission_on_a_private_incident_refuses_who_cannot_see_it() -> None:
    private = subject(private=True, owner=OUTSIDER)
    for permission in Permission:
        if permission is Permission.ANYONE:
            continue
        decision = decide(permission, OUTSIDER, private, admins=ADMINS, policy=Policy())
        assert not decision and decision.message == permissions.unseen(7), permission


def test_responders_are_the_channel_members_and_admins() -> None:
    for user in (MEMBER, MANAGER, ADMIN):
        assert allowed(Permission.RESPOND, user, subject())
    refused = decide(Permission.RESPOND, OUTSIDER, subject(), admins=ADMINS, policy=Policy())
    assert not refused
    assert "Only responders of incident #3" in refused.message
    assert "join <#C0INCIDNT> first" in refused.message


def test_before_its_channel_exists_the_declarer_and_manager_respond() -> None:
    no_channel = subject(private=True, channel_id=None, members=frozenset())
    assert allowed(Permission.RESPOND, DECLARER, no_channel)
    assert allowed(Permission.RESPOND, MANAGER, no_channel)
    assert not allowed(Permission.SEE, MEMBER, no_channel)


def test_anyone_needs_nothing() -> None:
    assert allowed(Permission.ANYONE, OUTSIDER, subject(private=True))


# -- the consequential actions, with the default policy ---------------------------------

DEFAULT_HOLDERS = {
    Permission.MANAGER: {MANAGER, DECLARER, ADMIN},
    Permission.RESOLVE: {MANAGER, DECLARER, ADMIN},
    Permission.REOPEN: {MANAGER, DECLARER, ADMIN},
    Permission.COMPLETE_POSTMORTEM: {MANAGER, DECLARER, ADMIN, OWNER},
    Permission.CLOSE_ITEM: {MANAGER, DECLARER, ADMIN, OWNER},
    Permission.STATUS_PAGE: {MANAGER, COMMS, ADMIN},
    Permission.NOTIFY_CUSTOMERS: {MANAGER, COMMS, ADMIN},
    Permission.SOCIAL_POST: {MANAGER, ADMIN},  # issue 14: the incident manager approves
    Permission.ACKNOWLEDGE: {MANAGER, ADMIN},  # issue 15: the manager acknowledges
}


@pytest.mark.parametrize("permission", permissions.CONSEQUENTIAL)
@pytest.mark.parametrize("private", [False, True])
def test_default_holders_may_and_everyone_else_may_not(
    permission: Permission, private: bool
) -> None:
    subj = subject(private=private, owner=OWNER)
    people = {MANAGER, DECLARER, COMMS, SCRIBE, MEMBER, OWNER, ADMIN, OUTSIDER}
    expected = DEFAULT_HOLDERS[permission]
    for user in people:
        decision = decide(permission, user, subj, admins=ADMINS, policy=Policy())
        assert decision.allowed == (user in expected), (permission, user)
        if decision:
            continue
        if private and user == OUTSIDER:
            assert decision.message == permissions.unseen(7)
        else:
            assert decision.message.startswith("You cannot "), decision.message
            assert f"<@{MANAGER}>" in decision.message and "Nothing was changed" in decision.message


def test_the_refusal_names_the_holders_and_the_people() -> None:
    decision = decide(Permission.RESOLVE, MEMBER, subject(), admins=ADMINS, policy=Policy())
    assert decision.message == (
        "You cannot resolve incident #3: only the incident manager (<@U0MANAGER>), the person "
        "who declared it (<@U0DECLARE>) or an incident admin (INCIDENT_ADMINS) can. "
        "Nothing was changed."
    )
    item = decide(
        Permission.CLOSE_ITEM, MEMBER, subject(owner=OWNER), admins=ADMINS, policy=Policy()
    )
    assert "close someone else's action item in incident #3" in item.message
    assert item.message.count(f"<@{OWNER}>") == 1 and "the item's owner" in item.message


def test_a_vacant_manager_role_may_be_taken_by_a_responder_only() -> None:
    vacant = subject(roles={Role.COMMS_LEAD: COMMS})
    assert allowed(Permission.MANAGER, MEMBER, vacant)
    assert not allowed(Permission.MANAGER, OUTSIDER, vacant)
    assert not allowed(Permission.MANAGER, MEMBER, subject())  # held: ask the holders
    # Nobody holds the manager role: the refusal lists who does exist.
    message = decide(Permission.RESOLVE, MEMBER, vacant, admins=ADMINS, policy=Policy()).message
    assert "incident manager" not in message and "<@U0DECLARE>" in message


def test_an_item_owner_may_close_their_own_item_whatever_the_policy() -> None:
    strict = Policy.parse("close_item=admins")
    assert allowed(Permission.CLOSE_ITEM, OWNER, subject(owner=OWNER), strict)
    assert not allowed(Permission.CLOSE_ITEM, MANAGER, subject(owner=OWNER), strict)
    assert allowed(Permission.CLOSE_ITEM, ADMIN, subject(owner=OWNER), strict)


# -- a configured policy ------------------------------------------------------------------


def test_a_configured_policy_replaces_the_defaults_it_names() -> None:
    policy = Policy.parse("resolve=comms,scribe; complete_postmortem=owner ;reopen=responders")
    assert not allowed(Permission.RESOLVE, MANAGER, subject(), policy)
    assert allowed(Permission.RESOLVE, COMMS, subject(), policy)
    assert allowed(Permission.RESOLVE, SCRIBE, subject(), policy)
    assert not allowed(Permission.RESOLVE, ADMIN, subject(), policy)
    assert allowed(Permission.COMPLETE_POSTMORTEM, OWNER, subject(owner=OWNER), policy)
    assert not allowed(Permission.COMPLETE_POSTMORTEM, MANAGER, subject(owner=OWNER), policy)
    assert allowed(Permission.REOPEN, MEMBER, subject(), policy)
    assert not allowed(Permission.REOPEN, OUTSIDER, subject(), policy)
    assert policy.of(Permission.MANAGER) == permissions.DEFAULTS[Permission.MANAGER]
    message = decide(Permission.RESOLVE, MANAGER, subject(), admins=ADMINS, policy=policy).message
    assert "only the communications lead (<@U0COMMS01>) or the scribe (<@U0SCRIBE1>)" in message


def test_a_configured_policy_round_trips_and_defaults_are_safe() -> None:
    assert Policy.parse(Policy().describe()) == Policy()
    for permission in permissions.CONSEQUENTIAL:
        holders = permissions.DEFAULTS[permission]
        assert Holder.RESPONDERS not in holders and Holder.ADMINS in holders
        assert Holder.MANAGER in holders


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("resolv=manager", "unknown action `resolv`"),
        ("see=manager", "unknown action `see`"),
        ("resolve", "needs `=`"),
        ("resolve=boss", "`boss` in resolve is not one of"),
        ("resolve=", "resolve names nobody"),
        ("reopen=owner", "`owner` means something only for"),
        ("resolve=manager;resolve=admins", "`resolve` is given twice"),
    ],
)
def test_a_bad_policy_says_what_is_wrong(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error.replace("(", r"\(").replace("`", "`")):
        Policy.parse(text)


def test_admins_are_user_and_group_ids() -> None:
    admins = Admins.parse("U123ABC, W456DEF S789GHI,S789GHI")
    assert admins.users == {"U123ABC", "W456DEF"} and admins.groups == ("S789GHI",)
    assert Admins.parse("").empty
    with pytest.raises(ValueError, match="`@oncall` is not a Slack user id"):
        Admins.parse("U123ABC,@oncall")


def test_an_action_left_to_absent_admins_stops_start_up() -> None:
    with pytest.raises(ValueError, match="only admins may resolve"):
        permissions.check_reachable(Policy.parse("resolve=admins"), Admins())
    permissions.check_reachable(Policy.parse("resolve=admins"), Admins.parse("U123ABC"))


def test_admins_are_asked_only_when_nothing_else_allows() -> None:
    class Counting:
        asked = 0

        def __contains__(self, item: object) -> bool:
            Counting.asked += 1
            return item == ADMIN

    decide(Permission.RESOLVE, MANAGER, subject(), admins=Counting(), policy=Policy())
    decide(Permission.RESPOND, MEMBER, subject(), admins=Counting(), policy=Policy())
    assert Counting.asked == 0
    assert decide(Permission.RESOLVE, ADMIN, subject(), admins=Counting(), policy=Policy())
    assert Counting.asked >= 1


# -- facts from the database, on both backends ----------------------------------------


@pytest.fixture
def declared(db: Database) -> Iterator[int]:
    with db.session() as session:
        incident, _ = incidents.declare(
            session,
            title="Queue stuck",
            severity="sev2",
            declared_by=DECLARER,
            declare_key=uuid.uuid4().hex,
            manager=MANAGER,
            private=True,
        )
        assert incident.id is not None
        incident.channel_id = "C0INCIDNT"
        session.add(incident)
        incidents.assign_role(
            session, incident=incident, role=Role.COMMS_LEAD, user_id=COMMS, actor=MANAGER
        )
        incident_id = incident.id
    yield incident_id


def _load(
    db: Database, incident_id: int, permission: Permission, item: int | None = None
) -> Subject:
    with db.read() as session:
        incident = incidents.get(session, incident_id=incident_id)
        return permissions.load(
            session, incident=incident, members=IN_CHANNEL, permission=permission, item_id=item
        )


def test_facts_come_from_the_incident_and_its_roles(db: Database, declared: int) -> None:
    subj = _load(db, declared, Permission.RESOLVE)
    assert (subj.private, subj.declared_by, subj.manager) == (True, DECLARER, MANAGER)
    assert subj.roles[Role.COMMS_LEAD] == COMMS and subj.owner is None
    assert allowed(Permission.RESOLVE, MANAGER, subj)
    assert not allowed(Permission.RESOLVE, COMMS, subj)
    assert not allowed(Permission.SEE, OUTSIDER, subj)


def test_closing_an_item_is_decided_on_its_owner(db: Database, declared: int) -> None:
    policy = FollowUpPolicy()
    with db.session() as session:
        item, _ = action_items.create(
            session,
            incident_id=declared,
            text="Add an alert",
            owner=OWNER,
            created_by=MEMBER,
            via=action_items.Via.COMMAND,
            due_on=None,
            policy=policy,
        )
        item_id = item.id
    subj = _load(db, declared, Permission.CLOSE_ITEM, item_id)
    assert subj.owner == OWNER
    assert allowed(Permission.CLOSE_ITEM, OWNER, subj)
    assert not allowed(Permission.CLOSE_ITEM, MEMBER, subj)
    assert _load(db, declared, Permission.CLOSE_ITEM, 999_999).owner is None


def test_completing_the_postmortem_is_decided_on_its_owner_or_manager(
    db: Database, declared: int
) -> None:
    assert _load(db, declared, Permission.COMPLETE_POSTMORTEM).owner == MANAGER  # none yet
    with db.session() as session:
        incident = incidents.get(session, incident_id=declared)
        incidents.resolve(session, incident=incident, actor=MANAGER, resolution="Restarted")
    with db.session() as session:
        changes = postmortems.Edit(
            summary="", impact="", root_cause="", resolution="", owner=OWNER, due_on=date.today()
        )
        postmortems.edit(
            session,
            incident_id=declared,
            changes=changes,
            actor=MANAGER,
            policy=FollowUpPolicy(),
        )
    subj = _load(db, declared, Permission.COMPLETE_POSTMORTEM)
    assert subj.owner == OWNER
    assert allowed(Permission.COMPLETE_POSTMORTEM, OWNER, subj)
    assert not allowed(Permission.COMPLETE_POSTMORTEM, MEMBER, subj)


def test_requests_about_no_incident() -> None:
    """Admin business: incident admins, and nobody (saying how to set them) when none are set;
    triage: the triage channel's members and admins; everything else: anyone."""
    admin = permissions.decide_general
    assert admin(Permission.ADMIN, ADMIN, admins=ADMINS, admins_configured=True)
    refused = admin(Permission.ADMIN, MEMBER, admins=ADMINS, admins_configured=True, doing="x")
    assert not refused and "only an incident admin (INCIDENT_ADMINS)" in refused.message
    empty = admin(Permission.ADMIN, ADMIN, admins=frozenset(), admins_configured=False)
    assert not empty and "Set INCIDENT_ADMINS" in empty.message
    members = frozenset({MEMBER})
    triage = {
        user: bool(
            admin(
                Permission.TRIAGE,
                user,
                admins=ADMINS,
                admins_configured=True,
                channel_id="C0ALERTS",
                members=members,
            )
        )
        for user in (MEMBER, ADMIN, OUTSIDER)
    }
    assert triage == {MEMBER: True, ADMIN: True, OUTSIDER: False}
    assert admin(Permission.ANYONE, OUTSIDER, admins=ADMINS, admins_configured=False)


def test_publishing_from_the_declare_form() -> None:
    """STATUS_PAGE on the incident as it will be: its manager (by default the declarer)."""
    declaring = permissions.decide_declaring
    assert declaring(MEMBER, MEMBER, admins=ADMINS, policy=Policy())
    assert declaring(ADMIN, MEMBER, admins=ADMINS, policy=Policy())
    refused = declaring(MEMBER, MANAGER, admins=ADMINS, policy=Policy())
    assert not refused and "Clear the status page fields" in refused.message
    declarers = Policy.parse("status_page=declarer")
    assert declaring(MEMBER, MANAGER, admins=ADMINS, policy=declarers)
