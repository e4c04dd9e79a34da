"""The Slack side of an incident: its channel, members, topic, pinned card and broadcast line.

Each method below is an outbox subscriber (`bot.slack.subscribers`): it is called with a
committed event and its `Delivery`, possibly more than once, and is idempotent by the
delivery id. A declaration's setup is one delivery per step: `create_channel` first (the
barrier: steps that need the channel wait for it), then `invite_people`, `show_topic`,
`show_card`, `show_broadcast` and the checklist (`bot.slack.notices`) at once. The `show_*`
methods also keep the surfaces current after every later change: each re-reads the incident,
so the latest committed state is what Slack shows, and the outbox delivers the deliveries of
one surface of one incident one after another (a lane), so an older read never lands last.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import update
from sqlmodel import col

from blocks import incident as render
from bot import incidents
from bot.core.errors import DomainError
from bot.core.events import Delivery, Event, IncidentDeclared, IncidentEvent, RoleAssigned
from bot.incidents import IncidentView
from bot.incidents.channels import channel_name
from bot.slack import statuspage
from bot.slack.keyed import post_once
from storage.models import Incident
from storage.types import utcnow

if TYPE_CHECKING:
    from bot.slack.services import Services

log = logging.getLogger(__name__)

NAME_ATTEMPTS = 25
CREATED_SLACK = timedelta(seconds=2)  # `created` is in whole seconds
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{6,}$")
DRILL_CHANNEL_PREFIX = "drill-"
IGNORED_INVITE_ERRORS = frozenset({"already_in_channel", "cant_invite_self"})


class NoFreeName(DomainError):
    """Every channel name tried was taken."""


class IncidentSlack:
    """Creates and updates the Slack surfaces of incidents."""

    def __init__(self, services: Services, *, slack: WebClient | None = None) -> None:
        self.services = services
        self.slack = slack or services.slack
        self._broadcast_id: str | None = None

    # -- helpers -----------------------------------------------------------------------

    def broadcast_channel(self) -> str | None:
        """The id of INCIDENT_BROADCAST_CHANNEL (given as an id or a #name), if set."""
        wanted = self.services.settings.incident_broadcast_channel.strip()
        if not wanted:
            return None
        if self._broadcast_id is None:
            if _CHANNEL_ID.match(wanted):
                self._broadcast_id = wanted
            else:
                found = self._find_channel(wanted.lstrip("#"))
                if found is None:
                    log.warning("INCIDENT_BROADCAST_CHANNEL %s not found; not announcing", wanted)
                    return None
                self._broadcast_id = str(found["id"])
        return self._broadcast_id

    def _find_channel(self, name: str) -> dict[str, Any] | None:
        for page in self.slack.conversations_list(
            types="public_channel,private_channel", exclude_archived=True, limit=200
        ):
            for channel in page.get("channels", []):
                if channel.get("name") == name:
                    return dict(channel)
        return None

    @staticmethod
    def _channel(view: IncidentView) -> str:
        channel = view.incident.channel_id
        assert channel is not None, "the incident has no channel yet"
        return channel

    def _view(self, incident_id: int) -> IncidentView:
        with self.services.db.read() as session:
            view = incidents.view(session, incident_id=incident_id)
            return statuspage.attach(self.services, session, view)  # on the status page?

    def _save(self, incident_id: int, **values: Any) -> None:
        with self.services.db.session() as session:
            session.execute(
                update(Incident).where(col(Incident.id) == incident_id).values(**values)
            )

    # -- the channel (the barrier of a setup) ------------------------------------------

    def create_channel(self, event: IncidentDeclared, delivery: Delivery) -> None:
        """Make the incident's channel (once: an earlier attempt's channel is taken over)."""
        inc = self._view(event.incident_id).incident
        assert inc.id is not None
        if inc.channel_id:
            return
        prefix = self.services.settings.incident_channel_prefix
        if inc.is_drill:
            prefix = f"{DRILL_CHANNEL_PREFIX}{prefix}"  # drill-inc-12-...: never mistaken
        for attempt in range(NAME_ATTEMPTS):
            name = channel_name(prefix, inc.number, inc.title, attempt)
            try:
                channel = self.slack.conversations_create(name=name, is_private=inc.private)[
                    "channel"
                ]
                break
            except SlackApiError as exc:
                if exc.response.get("error") != "name_taken":
                    raise
            earlier = self._made_earlier(name, delivery) if delivery.check_first else None
            if earlier is not None:
                channel = earlier
                break
            log.info("channel name %s is taken; trying another", name)
        else:
            raise NoFreeName(f"Slack answered `name_taken` for {NAME_ATTEMPTS} channel names.")
        self._save(inc.id, channel_id=channel["id"], channel_name=channel["name"])

    def _made_earlier(self, name: str, delivery: Delivery) -> dict[str, Any] | None:
        """The channel called `name` if an earlier attempt of this delivery made it: the bot
        created it since the first attempt began, and no incident has it."""
        found = self._find_channel(name)
        if found is None or delivery.since is None:
            return None
        if found.get("creator") != self.services.directory.bot_user_id():
            return None
        if float(found.get("created") or 0) < (delivery.since - CREATED_SLACK).timestamp():
            return None
        with self.services.db.read() as session:
            if incidents.by_channel(session, channel_id=str(found["id"])) is not None:
                return None
        log.info("channel %s was made by an earlier attempt; taking it", name)
        return found

    # -- members, topic, card, broadcast line -------------------------------------------

    def invite_people(self, event: IncidentEvent, delivery: Delivery) -> None:
        """Invite the declarer and the manager (a declaration) or the new role holder."""
        view = self._view(event.incident_id)
        if isinstance(event, IncidentDeclared):
            self._invite(view, [view.incident.declared_by, view.manager])
        elif isinstance(event, RoleAssigned):
            self._invite(view, [event.user])

    def _invite(self, view: IncidentView, users: list[str | None]) -> None:
        """Invite everyone in one call; someone who cannot be invited (a deleted or guest
        account) is logged and does not stop the others."""
        wanted = sorted({u for u in users if u and u != self.services.directory.bot_user_id()})
        if not wanted:
            return
        try:
            answer = self.slack.conversations_invite(
                channel=self._channel(view), users=",".join(wanted), force=True
            )
            refused = list(answer.get("errors") or [])
        except SlackApiError as exc:
            refused = list(exc.response.get("errors") or [])
            if not refused:  # about the channel, not the people: the delivery failed
                raise
        for error in refused:
            if error.get("error") not in IGNORED_INVITE_ERRORS:
                log.warning("could not invite %s: %s", error.get("user"), error.get("error"))

    def show_topic(self, event: Event, delivery: Delivery) -> None:
        """Set the channel topic from the latest state."""
        view = self._view(event.incident_id)
        self.slack.conversations_setTopic(channel=self._channel(view), topic=render.topic(view))

    def show_card(self, event: Event, delivery: Delivery) -> None:
        """Post and pin the card (once), or bring it up to date."""
        view = self._view(event.incident_id)
        inc, channel = view.incident, self._channel(view)
        assert inc.id is not None
        if not inc.card_ts:
            posted = post_once(
                self.slack,
                delivery,
                channel=channel,
                text=render.card_text(view),
                blocks=render.card_blocks(view),
            )
            self._save(inc.id, card_ts=posted.ts)
            self._pin(channel, posted.ts)
            return
        self.slack.chat_update(
            channel=channel,
            ts=inc.card_ts,
            text=render.card_text(view),
            blocks=render.card_blocks(view),
        )
        if isinstance(event, IncidentDeclared):  # the setup step: the card is pinned too
            self._pin(channel, inc.card_ts)

    def _pin(self, channel: str, ts: str) -> None:
        try:
            self.slack.pins_add(channel=channel, timestamp=ts)
        except SlackApiError as exc:
            if exc.response.get("error") != "already_pinned":
                raise

    def show_broadcast(self, event: Event, delivery: Delivery) -> None:
        """Announce a new public incident in INCIDENT_BROADCAST_CHANNEL (once), or bring its
        line there up to date."""
        view = self._view(event.incident_id)
        inc = view.incident
        assert inc.id is not None
        if inc.private or inc.is_drill:  # only its channel hears of a private incident or a drill
            return
        if inc.broadcast_ts and inc.broadcast_channel_id:
            self.slack.chat_update(
                channel=inc.broadcast_channel_id,
                ts=inc.broadcast_ts,
                text=render.card_text(view),
                blocks=render.broadcast_blocks(view, now=utcnow()),
            )
            return
        if not isinstance(event, IncidentDeclared):
            return
        channel = self.broadcast_channel()
        if channel is None:
            return
        posted = post_once(
            self.slack,
            delivery,
            channel=channel,
            text=f"New incident: {render.card_text(view)}",
            blocks=render.broadcast_blocks(view, now=utcnow()),
            unfurl_links=False,
        )
        self._save(inc.id, broadcast_channel_id=posted.channel, broadcast_ts=posted.ts)
