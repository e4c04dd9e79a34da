"""The one decision: may this person do this to this incident? If not, why, and who may.

`decide` is the rule every request passes (through handlers/access.admit). In order:
1. Anything about an incident needs seeing it (`can_see`); a refusal then says no more than
   a missing incident would, so nobody learns that a private incident exists.
2. Reading needs nothing more; changing needs being a responder (`can_respond`).
3. A consequential action needs being one of its holders in the policy (PERMISSIONS). The
   owner of an action item may always close it; anyone who may respond may take the
   incident manager role while nobody holds it.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass

from bot.core.vocabulary import Role
from bot.permissions.policy import Holder, Permission, Policy
from bot.permissions.visibility import Subject, can_respond, can_see


@dataclass(frozen=True)
class Decision:
    """Allowed, or refused with a message that says why and who can."""

    allowed: bool
    message: str = ""

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = Decision(True)

DOING = {
    Permission.MANAGER: "hand the incident manager role of incident #{n} over",
    Permission.RESOLVE: "resolve incident #{n}",
    Permission.REOPEN: "reopen incident #{n}",
    Permission.COMPLETE_POSTMORTEM: "mark the post-mortem of incident #{n} complete",
    Permission.CLOSE_ITEM: "close someone else's action item in incident #{n}",
    Permission.STATUS_PAGE: "publish incident #{n} to the status page",
    Permission.NOTIFY_CUSTOMERS: "notify customers about incident #{n}",
    Permission.SOCIAL_POST: "decide on Mastodon posts about incident #{n}",
    Permission.ACKNOWLEDGE: "acknowledge incident #{n} for its incident manager",
}
OWNER_OF = {
    Permission.COMPLETE_POSTMORTEM: "the post-mortem's owner",
    Permission.CLOSE_ITEM: "the item's owner",
}


def unseen(incident_id: int) -> str:
    """The refusal for an incident the person may not see, or that does not exist: the same
    words for both."""
    return (
        f"Incident {incident_id} does not exist, or it is private and you are not in its "
        "channel. Nothing was changed."
    )


def decide(
    permission: Permission,
    user_id: str,
    subject: Subject,
    *,
    admins: Container[str],
    policy: Policy,
) -> Decision:
    """Whether `user_id` may do `permission` to the incident `subject` describes."""
    if permission is Permission.ANYONE:
        return ALLOWED
    if not can_see(user_id, subject, admins=admins):
        return Decision(False, unseen(subject.incident_id))
    if permission is Permission.SEE:
        return ALLOWED
    responder = can_respond(user_id, subject, admins=admins)
    if permission is Permission.RESPOND:
        return ALLOWED if responder else Decision(False, _not_responder(subject))
    if permission is Permission.CLOSE_ITEM and user_id == subject.owner:
        return ALLOWED  # one's own item
    if permission is Permission.MANAGER and subject.manager is None and responder:
        return ALLOWED  # nobody manages it: a responder may take the role
    holders = policy.of(permission)
    if any(holds(h, user_id, subject, admins=admins) for h in _cheap_first(holders)):
        return ALLOWED
    return Decision(False, _not_holder(permission, subject, holders))


def decide_general(
    permission: Permission,
    user_id: str,
    *,
    admins: Container[str],
    admins_configured: bool,
    doing: str = "do that",
    channel_id: str | None = None,
    members: Container[str] = frozenset(),
) -> Decision:
    """The permissions about no one incident.

    - ADMIN (`/incident admin`, `/incident maintenance`, `/incident component` and the
      maintenance form): incident admins only. With INCIDENT_ADMINS empty nobody may, and the
      refusal says how to name admins.
    - TRIAGE (an alert group's Acknowledge, Dismiss, Link): the members of the channel the
      triage message is in (ALERTS_CHANNEL, or the rule's route), and incident admins.
    Anything else is allowed (ANYONE).
    """
    if permission is Permission.ADMIN:
        if not admins_configured:
            return Decision(
                False,
                f"You cannot {doing}: only incident admins can, and none are set. Set "
                "INCIDENT_ADMINS to Slack user ids (U…) or user group ids (S…), e.g. "
                "`INCIDENT_ADMINS=U012AB3CD,S0123ABCD`, and restart the bot. Nothing was changed.",
            )
        if user_id and user_id in admins:
            return ALLOWED
        return Decision(
            False,
            f"You cannot {doing}: only an incident admin (INCIDENT_ADMINS) can. "
            "Nothing was changed.",
        )
    if permission is Permission.TRIAGE:
        if user_id and (user_id in members or user_id in admins):
            return ALLOWED
        where = f"<#{channel_id}>" if channel_id else "the alerts channel"
        return Decision(
            False,
            f"You cannot {doing}: only members of {where}, where this alert is triaged, or an "
            "incident admin (INCIDENT_ADMINS) can. Join the channel first. Nothing was changed.",
        )
    return ALLOWED


def decide_declaring(
    user_id: str, manager: str, *, admins: Container[str], policy: Policy
) -> Decision:
    """May `user_id` publish a new incident to the status page from the declare form?

    The rule of STATUS_PAGE, applied to the incident as it will be: `user_id` its declarer,
    `manager` its incident manager, nobody else in a role yet.
    """
    holders = policy.of(Permission.STATUS_PAGE)
    if Holder.MANAGER in holders and user_id == manager:
        return ALLOWED
    if Holder.DECLARER in holders or Holder.RESPONDERS in holders:
        return ALLOWED  # the declarer is both, and the first responder
    if Holder.ADMINS in holders and user_id in admins:
        return ALLOWED
    return Decision(
        False,
        "You cannot publish a new incident to the status page from the declare form: only "
        + ("its incident manager, " if Holder.MANAGER in holders else "")
        + "an incident admin (INCIDENT_ADMINS) or a holder of status_page in PERMISSIONS can. "
        "Clear the status page fields to declare without publishing. Nothing was changed.",
    )


def _cheap_first(holders: frozenset[Holder]) -> list[Holder]:
    """Roles before channel membership before admins (which may ask Slack)."""
    cost = {Holder.RESPONDERS: 1, Holder.ADMINS: 2}
    return sorted(holders, key=lambda h: (cost.get(h, 0), list(Holder).index(h)))


def holds(holder: Holder, user_id: str, subject: Subject, *, admins: Container[str]) -> bool:
    """Whether `user_id` is `holder` for this incident."""
    if not user_id:
        return False
    if holder is Holder.MANAGER:
        return user_id == subject.manager
    if holder is Holder.DECLARER:
        return user_id == subject.declared_by
    if holder is Holder.COMMS:
        return user_id == subject.roles.get(Role.COMMS_LEAD)
    if holder is Holder.SCRIBE:
        return user_id == subject.roles.get(Role.SCRIBE)
    if holder is Holder.OWNER:
        return user_id == subject.owner
    if holder is Holder.RESPONDERS:
        return subject.is_member(user_id)
    return user_id in admins


def _not_responder(subject: Subject) -> str:
    where = f"<#{subject.channel_id}>" if subject.channel_id else "its channel"
    return (
        f"Only responders of incident #{subject.number} can change it: join {where} first "
        "(or ask an incident admin). Nothing was changed."
    )


def _who(holder: Holder, permission: Permission, subject: Subject) -> str | None:
    """One holder in words, with the person when there is one (None: nobody holds it)."""
    person = {
        Holder.MANAGER: subject.manager,
        Holder.DECLARER: subject.declared_by,
        Holder.COMMS: subject.roles.get(Role.COMMS_LEAD),
        Holder.SCRIBE: subject.roles.get(Role.SCRIBE),
        Holder.OWNER: subject.owner,
    }
    label = {
        Holder.MANAGER: "the incident manager",
        Holder.DECLARER: "the person who declared it",
        Holder.COMMS: "the communications lead",
        Holder.SCRIBE: "the scribe",
        Holder.OWNER: OWNER_OF.get(permission, "the owner"),
    }
    if holder is Holder.RESPONDERS:
        return "its responders (members of its channel)"
    if holder is Holder.ADMINS:
        return "an incident admin (INCIDENT_ADMINS)"
    user = person[holder]
    return f"{label[holder]} (<@{user}>)" if user else None


def _not_holder(permission: Permission, subject: Subject, holders: frozenset[Holder]) -> str:
    names = [w for h in Holder if h in holders if (w := _who(h, permission, subject))]
    if permission is Permission.CLOSE_ITEM and subject.owner and Holder.OWNER not in holders:
        names.insert(0, f"the item's owner (<@{subject.owner}>)")
    if not names:
        who = "nobody who holds that role now; ask whoever runs the incident bot"
    elif len(names) == 1:
        who = names[0]
    else:
        who = ", ".join(names[:-1]) + " or " + names[-1]
    doing = DOING[permission].format(n=subject.number)
    return f"You cannot {doing}: only {who} can. Nothing was changed."
