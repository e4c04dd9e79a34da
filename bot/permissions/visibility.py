"""Who may see an incident, and who responds to it: the facts the rules need, and the rules.

The facts about people (who is in the incident's channel, who is an incident admin) come
from Slack; the Slack side (bot/slack/access.py) fetches them and passes them in as
containers, so these rules stay pure. A container may look a person up lazily: the rules ask
about the channel first and about admins only when that is not enough.

For the web console, `may_see` and `visible_filter` state the same rule over the set of
private incident channels a person is in (an incident admin: all of them), the latter as a
SQL condition for lists, searches and figures.
"""

from __future__ import annotations

from collections.abc import Collection, Container, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from sqlalchemy import ColumnElement, false, or_
from sqlmodel import Session, col, select

from bot.core.vocabulary import Role
from storage.models import Incident


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


def may_see(incident: Incident, member_channels: Collection[str]) -> bool:
    """True when a person in `member_channels` may see `incident`."""
    if not incident.private:
        return True
    return incident.channel_id is not None and incident.channel_id in member_channels


def visible_filter(member_channels: Collection[str]) -> ColumnElement[bool]:
    """`may_see` as a condition on the incident table, for queries."""
    channels = sorted(member_channels)
    member_of = col(Incident.channel_id).in_(channels) if channels else false()
    return or_(col(Incident.private).is_(False), member_of)


def private_channels(session: Session) -> list[str]:
    """The channels of every private incident: whose membership decides who sees them."""
    query = select(Incident.channel_id).where(
        col(Incident.private).is_(True), col(Incident.channel_id).is_not(None)
    )
    return [channel for channel in session.exec(query).all() if channel]
