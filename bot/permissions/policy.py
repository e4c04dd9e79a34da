"""What each request may need (`Permission`), who may do the consequential things (`Holder`),
and the two settings that configure it: PERMISSIONS and INCIDENT_ADMINS.

PERMISSIONS is `<action>=<holder>,<holder>;<action>=...`, for example
`resolve=manager,declarer,admins;close_item=manager,admins`. Actions it does not name keep
their defaults (`DEFAULTS`). Both settings are parsed once at start-up; a bad value raises
ValueError naming what is wrong and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


class Permission(StrEnum):
    """What a request does to an incident; each listener declares one (handlers/access.py)."""

    ANYONE = "anyone"  # about no one incident: help, declare, lists (filtered per person)
    SEE = "see"  # read an incident: timeline pages, its action items
    RESPOND = "respond"  # change it: updates, status, severity, notes, items, post-mortem edits
    # The consequential actions, configurable in PERMISSIONS:
    MANAGER = "manager"  # hand the incident manager role over
    RESOLVE = "resolve"
    REOPEN = "reopen"
    COMPLETE_POSTMORTEM = "complete_postmortem"
    CLOSE_ITEM = "close_item"  # close someone else's action item (owners close their own)
    STATUS_PAGE = "status_page"  # publish to the status page
    NOTIFY_CUSTOMERS = "notify_customers"
    SOCIAL_POST = "social_post"  # approve (Post / Edit / Skip) a public update on Mastodon
    ACKNOWLEDGE = "acknowledge"  # acknowledge an incident's escalation (as its manager)
    # About no one incident (bot.permissions.rules.decide_general):
    ADMIN = "admin"  # the bot's own business: deliveries, maintenance, components
    TRIAGE = "triage"  # acknowledge, dismiss or link an alert group

    @property
    def configurable(self) -> bool:
        """True for the consequential actions PERMISSIONS configures."""
        return self not in (
            Permission.ANYONE,
            Permission.SEE,
            Permission.RESPOND,
            Permission.ADMIN,
            Permission.TRIAGE,
        )

    @property
    def about_incident(self) -> bool:
        """True when the request must name an incident it is checked against."""
        return self not in (Permission.ANYONE, Permission.ADMIN, Permission.TRIAGE)


CONSEQUENTIAL = tuple(p for p in Permission if p.configurable)


class Holder(StrEnum):
    """Who may be allowed a consequential action."""

    MANAGER = "manager"  # the incident manager
    DECLARER = "declarer"  # the person who declared the incident
    COMMS = "comms"  # the communications lead
    SCRIBE = "scribe"
    OWNER = "owner"  # the owner of the action item or post-mortem acted on
    RESPONDERS = "responders"  # members of the incident's channel
    ADMINS = "admins"  # INCIDENT_ADMINS


# `owner` means something only where something with an owner is acted on.
OWNED = frozenset({Permission.COMPLETE_POSTMORTEM, Permission.CLOSE_ITEM})

DEFAULTS: Mapping[Permission, frozenset[Holder]] = MappingProxyType(
    {
        Permission.MANAGER: frozenset({Holder.MANAGER, Holder.DECLARER, Holder.ADMINS}),
        Permission.RESOLVE: frozenset({Holder.MANAGER, Holder.DECLARER, Holder.ADMINS}),
        Permission.REOPEN: frozenset({Holder.MANAGER, Holder.DECLARER, Holder.ADMINS}),
        Permission.COMPLETE_POSTMORTEM: frozenset(
            {Holder.MANAGER, Holder.OWNER, Holder.DECLARER, Holder.ADMINS}
        ),
        Permission.CLOSE_ITEM: frozenset({Holder.MANAGER, Holder.DECLARER, Holder.ADMINS}),
        Permission.STATUS_PAGE: frozenset({Holder.MANAGER, Holder.COMMS, Holder.ADMINS}),
        Permission.NOTIFY_CUSTOMERS: frozenset({Holder.MANAGER, Holder.COMMS, Holder.ADMINS}),
        # Issue 14: posted "only after the incident manager approves the text" (incident
        # admins may do everything, as for every action).
        Permission.SOCIAL_POST: frozenset({Holder.MANAGER, Holder.ADMINS}),
        Permission.ACKNOWLEDGE: frozenset({Holder.MANAGER, Holder.ADMINS}),
    }
)


@dataclass(frozen=True)
class Policy:
    """Who may do each consequential action."""

    holders: Mapping[Permission, frozenset[Holder]] = field(default_factory=lambda: DEFAULTS)

    def of(self, permission: Permission) -> frozenset[Holder]:
        """The holders allowed `permission` (a consequential one)."""
        return self.holders[permission]

    @classmethod
    def parse(cls, text: str) -> Policy:
        """PERMISSIONS as written; ValueError saying what is wrong."""
        holders = dict(DEFAULTS)
        seen: set[Permission] = set()
        for entry in (e.strip() for e in text.split(";")):
            if not entry:
                continue
            name, sep, listed = entry.partition("=")
            permission = _permission(name)
            if not sep:
                raise ValueError(f"`{entry}` needs `=`: write {permission.value}=manager,admins")
            if permission in seen:
                raise ValueError(f"`{permission.value}` is given twice")
            seen.add(permission)
            holders[permission] = _holders(permission, listed)
        return cls(MappingProxyType(holders))

    def describe(self) -> str:
        """The policy written as PERMISSIONS would say it."""
        return ";".join(
            f"{p.value}=" + ",".join(h.value for h in Holder if h in self.holders[p])
            for p in CONSEQUENTIAL
        )


def _permission(name: str) -> Permission:
    try:
        permission = Permission(name.strip().lower())
    except ValueError:
        permission = None
    if permission is None or not permission.configurable:
        valid = ", ".join(p.value for p in CONSEQUENTIAL)
        raise ValueError(f"unknown action `{name.strip()}`; the actions are: {valid}")
    return permission


def _holders(permission: Permission, listed: str) -> frozenset[Holder]:
    found: set[Holder] = set()
    for word in (w.strip().lower() for w in listed.split(",")):
        if not word:
            continue
        try:
            holder = Holder(word)
        except ValueError:
            valid = ", ".join(h.value for h in Holder)
            raise ValueError(f"`{word}` in {permission.value} is not one of: {valid}") from None
        if holder is Holder.OWNER and permission not in OWNED:
            owned = " and ".join(sorted(p.value for p in OWNED))
            raise ValueError(f"`owner` means something only for {owned}, not {permission.value}")
        found.add(holder)
    if not found:
        raise ValueError(f"{permission.value} names nobody; list who may, e.g. manager,admins")
    return frozenset(found)


# -- INCIDENT_ADMINS ------------------------------------------------------------------------

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")
_GROUP_ID = re.compile(r"^S[A-Z0-9]{2,20}$")


@dataclass(frozen=True)
class Admins:
    """INCIDENT_ADMINS: user ids, and user groups whose members are admins too."""

    users: frozenset[str] = frozenset()
    groups: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """True when nobody is an incident admin."""
        return not self.users and not self.groups

    @classmethod
    def parse(cls, text: str) -> Admins:
        """`U123,W456,S789` (commas or spaces); ValueError naming a value that is not an id."""
        users: list[str] = []
        groups: list[str] = []
        for word in (w.strip() for w in re.split(r"[,\s]+", text)):
            if not word:
                continue
            if _USER_ID.match(word):
                users.append(word)
            elif _GROUP_ID.match(word):
                groups.append(word)
            else:
                raise ValueError(
                    f"`{word}` is not a Slack user id (U… or W…, from a profile's "
                    "⋮ → Copy member ID) or user group id (S…)"
                )
        return cls(frozenset(users), tuple(dict.fromkeys(groups)))


def check_reachable(policy: Policy, admins: Admins) -> None:
    """ValueError when an action is left to incident admins only and there are none."""
    for permission in CONSEQUENTIAL:
        if policy.of(permission) == {Holder.ADMINS} and admins.empty:
            raise ValueError(
                f"only admins may {permission.value}, but INCIDENT_ADMINS is empty: "
                "nobody could; name admins or more holders"
            )
