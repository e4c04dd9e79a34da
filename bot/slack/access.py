"""The Slack side of permissions: who is in an incident's channel, who is an incident admin,
which channels a person is in. It fetches these facts and hands them to the pure rules of
bot.permissions; it decides nothing itself.

Answers are reused for ACCESS_CACHE_SECONDS, one per channel, person or admin group, in
this process. A cached "yes" may be that old; a cached "no" is never trusted: the fact is
asked again, fresh (at most once every REFRESH_SECONDS per key), so someone invited a moment
ago is let in at once, while a stream of requests costs one Slack call per key and period.
A Slack refusal (the bot removed from a channel, a user group that is gone) counts as
"nobody", so a private incident stays closed when Slack cannot say who is in it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Container, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError
from sqlmodel import Session

from bot import incidents, permissions
from bot.core.errors import InvalidInput
from bot.incidents import IncidentView
from bot.permissions import Permission, Subject
from storage.models import Incident

if TYPE_CHECKING:
    from bot.slack.services import Services

log = logging.getLogger(__name__)

REFRESH_SECONDS = 2.0  # a "no" is asked again at most this often per key
PAGE = 1000  # people or channels per page


class _Cache:
    """Sets Slack told, by key, with the time they were fetched."""

    def __init__(self, ttl: float, clock: Callable[[], float]) -> None:
        self.ttl = ttl
        self.clock = clock
        self._values: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def get(
        self, key: str, load: Callable[[], frozenset[str] | None], *, fresh: bool
    ) -> frozenset[str]:
        """The cached set (when it is young enough), else `load()` (None: failed, not kept)."""
        now = self.clock()
        with self._lock:
            found = self._values.get(key)
        max_age = min(self.ttl, REFRESH_SECONDS) if fresh else self.ttl
        if found is not None and now - found[0] < max_age:
            return found[1]
        value = load()
        if value is None:
            return frozenset()
        with self._lock:
            self._values[key] = (now, value)
        return value


class _Asked:
    """A set Slack is asked about lazily: the cached answer first; a "no" is asked again."""

    def __init__(self, lookup: Callable[[bool], frozenset[str]]) -> None:
        self._lookup = lookup

    def __contains__(self, item: object) -> bool:
        return item in self._lookup(False) or item in self._lookup(True)


class _Admins:
    """INCIDENT_ADMINS: the listed people, then the members of the listed groups."""

    def __init__(self, access: SlackAccess) -> None:
        self._access = access
        self._spec = access.admin_spec

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, str) or not item:
            return False
        if item in self._spec.users:
            return True
        return any(item in self._access.group(g) for g in self._spec.groups)


class _InChannels:
    """Members of one channel, as far as one person is concerned: that person is a member
    when the channel is among theirs (one `users.conversations` answers a whole list)."""

    def __init__(self, user_id: str, channel_id: str | None, channels: Container[str]) -> None:
        self._user, self._channel, self._channels = user_id, channel_id, channels

    def __contains__(self, item: object) -> bool:
        return item == self._user and self._channel is not None and self._channel in self._channels


def _listed(user_id: str, view: IncidentView, channels: Container[str]) -> Subject:
    """An incident of a list, with its channel's members as far as `user_id` is concerned."""
    members = _InChannels(user_id, view.incident.channel_id, channels)
    return permissions.subject_of(view.incident, roles=view.roles, members=members)


class SlackAccess:
    """Facts about people for the permission rules, from Slack, briefly cached."""

    def __init__(self, services: Services, *, clock: Callable[[], float] = time.monotonic) -> None:
        settings = services.settings
        self.slack = services.slack
        self.db = services.db
        self.policy = settings.permission_policy
        self.admin_spec = settings.admins
        ttl = settings.access_cache_seconds
        self._members = _Cache(ttl, clock)
        self._groups = _Cache(ttl, clock)
        self._channels = _Cache(ttl, clock)

    # -- facts ----------------------------------------------------------------------------

    def members(self, channel_id: str | None) -> Container[str]:
        """Who is in `channel_id` (asked of Slack only when a rule needs it)."""
        if channel_id is None:
            return frozenset()
        return _Asked(
            lambda fresh: self._members.get(
                channel_id, lambda: self._fetch_members(channel_id), fresh=fresh
            )
        )

    def admins(self) -> Container[str]:
        """The incident admins (groups expanded only when a rule needs it)."""
        return _Admins(self)

    def group(self, group_id: str) -> Container[str]:
        """The members of one user group."""
        return _Asked(
            lambda fresh: self._groups.get(
                group_id, lambda: self._fetch_group(group_id), fresh=fresh
            )
        )

    def channels_of(self, user_id: str) -> Container[str]:
        """The channels `user_id` is in (public ones, and private ones the bot is in too)."""
        return _Asked(
            lambda fresh: self._channels.get(
                user_id, lambda: self._fetch_channels(user_id), fresh=fresh
            )
        )

    def subject(
        self,
        session: Session,
        incident: Incident,
        *,
        permission: Permission = Permission.SEE,
        item_id: int | None = None,
    ) -> Subject:
        """The rules' view of `incident` for a request that does `permission`."""
        return permissions.load(
            session,
            incident=incident,
            members=self.members(incident.channel_id),
            permission=permission,
            item_id=item_id,
        )

    # -- filters and checks ---------------------------------------------------------------

    def visible(self, user_id: str, views: Sequence[IncidentView]) -> list[IncidentView]:
        """The incidents of `views` that `user_id` may see, in order."""
        admins, channels = self.admins(), self.channels_of(user_id)
        return [
            v
            for v in views
            if permissions.can_see(user_id, _listed(user_id, v, channels), admins=admins)
        ]

    def respondable(self, user_id: str, views: Sequence[IncidentView]) -> list[IncidentView]:
        """The incidents of `views` that `user_id` may change (pickers offer only these)."""
        admins, channels = self.admins(), self.channels_of(user_id)
        return [
            v
            for v in views
            if permissions.can_respond(user_id, _listed(user_id, v, channels), admins=admins)
        ]

    def may_see(self, user_id: str, incident_id: int) -> bool:
        """Whether `user_id` may see the incident (False when it is gone)."""
        with self.db.read() as session:
            incident = session.get(Incident, incident_id)
            if incident is None:
                return False
            if not incident.private:
                return True
            subject = self.subject(session, incident)
        return permissions.can_see(user_id, subject, admins=self.admins())

    def check_owner(self, user_id: str, incident_id: int, *, field: str) -> None:
        """InvalidInput when `user_id` could not see the incident they would own work in."""
        if not self.may_see(user_id, incident_id):
            with self.db.read() as session:
                number = incidents.get(session, incident_id=incident_id).number
            why = (
                f"<@{user_id}> is not in the channel of incident #{number}, which is private, "
                "so they could not see it. Invite them first, or choose someone in it."
            )
            raise InvalidInput(why, fields={field: why})

    # -- Slack ----------------------------------------------------------------------------

    def _pages(self, method: Callable[..., Any], key: str, **kwargs: Any) -> Iterator[Any]:
        cursor: str | None = None
        while True:
            page = method(**kwargs, limit=PAGE, **({"cursor": cursor} if cursor else {}))
            yield from page.get(key) or []
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return

    def _fetch_members(self, channel_id: str) -> frozenset[str] | None:
        try:
            return frozenset(
                self._pages(self.slack.conversations_members, "members", channel=channel_id)
            )
        except SlackApiError as exc:
            log.warning("who is in %s: Slack answered %s", channel_id, exc.response.get("error"))
            return None

    def _fetch_group(self, group_id: str) -> frozenset[str] | None:
        try:
            users = self.slack.usergroups_users_list(usergroup=group_id).get("users") or []
            return frozenset(str(u) for u in users)
        except SlackApiError as exc:
            log.warning(
                "INCIDENT_ADMINS group %s: Slack answered %s", group_id, exc.response.get("error")
            )
            return None

    def _fetch_channels(self, user_id: str) -> frozenset[str] | None:
        try:
            found = self._pages(
                self.slack.users_conversations,
                "channels",
                user=user_id,
                types="public_channel,private_channel",
            )
            return frozenset(str(c["id"]) for c in found)
        except SlackApiError as exc:
            log.warning("channels of %s: Slack answered %s", user_id, exc.response.get("error"))
            return None
