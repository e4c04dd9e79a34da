"""Who may see an incident, and who responds to it: the facts the rules need, and the rules.

The facts about people (who is in the incident's channel, who is an incident admin) come
from Slack; the Slack side (bot/slack/access.py) fetches them and passes them in as
containers, so these rules stay pure. A container may look a person up lazily: the rules ask
about the channel first and about admins only when that is not enough.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from bot.core.vocabulary import Role


@dataclass(frozen=True)
class Subject:
    """What the rules know of one incident."""

    incident_id: int
    number: int
    private: bool
    declared_by: str
    channel_id: str | None
    members: Container[str]  # its channel's members, as Slack says
    roles: Mapping[Role, str] = field(default_factory=lambda: MappingProxyType({}))
    owner: str | None = None  # of the action item or post-mortem acted on, if any

    @property
    def manager(self) -> str | None:
        """The incident manager's user id, if there is one."""
        return self.roles.get(Role.INCIDENT_MANAGER)

    def is_member(self, user_id: str) -> bool:
        """In the incident's channel; before the channel exists, the declarer and the
        manager (the people its setup invites)."""
        if not user_id:
            return False
        if self.channel_id is None:
            return user_id in (self.declared_by, self.manager)
        return user_id in self.members


def can_see(user_id: str, subject: Subject, *, admins: Container[str]) -> bool:
    """A public incident: everyone. A private one: its channel's members and incident admins."""
    return not subject.private or subject.is_member(user_id) or user_id in admins


def can_respond(user_id: str, subject: Subject, *, admins: Container[str]) -> bool:
    """Responders change an incident: its channel's members, and incident admins."""
    return subject.is_member(user_id) or user_id in admins
