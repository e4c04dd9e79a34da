"""Which incidents a person may see: the one visibility rule.

A public incident is visible to every member of the workspace. A private incident is visible
only to the members of its channel (one without a channel yet, to nobody). Membership is
looked up on the Slack side (bot.slack.membership) and passed in as the set of private
incident channels the person is in; `may_see` is the rule, `visible_filter` the same rule as a
SQL condition for lists, searches and figures. Nothing here calls Slack.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import ColumnElement, false, or_
from sqlmodel import Session, col, select

from storage.models import Incident


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
