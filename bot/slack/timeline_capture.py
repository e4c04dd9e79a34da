"""Building timelines from Slack: reactions, edits, deletions, notes and the bot's own records.

`TimelineCapture` is the Slack-facing half of the timeline (bot.timeline is the database
half). Reactions in channels that belong to no incident cost one indexed lookup and nothing
else. Everything else reads Slack's current state before writing, so events arriving late or
out of order converge on what Slack shows.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from bot import incidents
from bot import timeline as tl
from bot.core.events import IncidentEvent
from bot.slack.directory import MessageRef
from storage.models import Incident

if TYPE_CHECKING:
    from bot.slack.services import Services

log = logging.getLogger(__name__)

CONFIRM_EMOJI = "memo"  # the bot's quiet "noted" on a message it put on a timeline
NO_INCIDENT_TTL = 30.0  # seconds a channel is remembered as belonging to no incident
CHANNELS_REMEMBERED = 10_000
RECENT_EVENTS = 10_000  # event ids remembered in memory (retries skip the Web API call)


def reaction_name(raw: str) -> str:
    """A reaction's base name (`+1::skin-tone-2` -> `+1`)."""
    return raw.split("::", 1)[0]


def file_names(message: dict[str, Any]) -> list[str]:
    """Names of the files attached to a message."""
    return [str(f.get("name") or f.get("title") or f.get("id")) for f in message.get("files") or []]


class TimelineCapture:
    """Puts Slack messages and incident events onto timelines and keeps them current."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.slack = services.slack
        self.directory = services.directory
        self.emojis = services.settings.timeline_emojis
        self._channels: dict[str, tuple[int | None, float]] = {}
        self._channels_lock = threading.Lock()
        self._recent: dict[str, None] = {}

    # -- what Slack shows -----------------------------------------------------------------

    def captured(
        self, message: dict[str, Any], *, channel_id: str, permalink: str | None
    ) -> tl.CapturedMessage:
        """A Slack message as the timeline keeps it."""
        author = message.get("user") or message.get("bot_id")
        if message.get("user"):
            name = self.directory.user_name(str(message["user"])) or str(message["user"])
        else:
            profile = message.get("bot_profile") or {}
            name = str(message.get("username") or profile.get("name") or author or "")
        text = message.get("text") or ""
        return tl.CapturedMessage(
            channel_id=channel_id,
            ts=str(message["ts"]),
            author=str(author) if author else None,
            author_name=name,
            text=self.directory.readable(text),
            files=file_names(message),
            thread_ts=message.get("thread_ts")
            if message.get("thread_ts") != message["ts"]
            else None,
            permalink=permalink or message.get("permalink"),
            edited_ts=(message.get("edited") or {}).get("ts"),
        )

    def _still_marked(self, message: dict[str, Any]) -> bool:
        """True when someone other than the bot has a timeline emoji on the message."""
        bot = self.directory.bot_user_id()
        for reaction in message.get("reactions") or []:
            if reaction_name(str(reaction.get("name", ""))) not in self.emojis:
                continue
            users = [u for u in reaction.get("users") or [] if u != bot]
            if users or int(reaction.get("count", 0)) > len(reaction.get("users") or []):
                return True
        return False

    def confirm(self, ref: MessageRef) -> None:
        """React to the message so people see it is on the timeline (best effort)."""
        try:
            self.slack.reactions_add(channel=ref.channel_id, timestamp=ref.ts, name=CONFIRM_EMOJI)
        except SlackApiError as exc:
            if exc.response.get("error") != "already_reacted":
                log.info(
                    "could not confirm %s/%s: %s", ref.channel_id, ref.ts, exc.response.get("error")
                )

    def unconfirm(self, ref: MessageRef) -> None:
        """Take the bot's confirmation off the message (best effort)."""
        try:
            self.slack.reactions_remove(
                channel=ref.channel_id, timestamp=ref.ts, name=CONFIRM_EMOJI
            )
        except SlackApiError as exc:
            if exc.response.get("error") != "no_reaction":
                log.info(
                    "could not unconfirm %s/%s: %s",
                    ref.channel_id,
                    ref.ts,
                    exc.response.get("error"),
                )

    # -- the bot's own entries -------------------------------------------------------------

    def on_event(self, event: IncidentEvent) -> None:
        """Event-bus subscriber: record every incident change on its timeline."""
        with self.services.db.session() as session:
            incident = incidents.get(session, incident_id=event.incident_id)
            name_of = self.directory.user_name
            text = tl.describe_event(event, incident=incident, name_of=name_of)
            tl.record_event(session, event=event, text=text, author_name=name_of(event.actor) or "")

    # -- reactions -------------------------------------------------------------------------

    def incident_id_of(self, channel_id: str) -> int | None:
        """The incident whose channel this is; remembered (briefly when there is none)."""
        now = time.monotonic()
        with self._channels_lock:
            known = self._channels.get(channel_id)
        if known is not None and (known[0] is not None or known[1] > now):
            return known[0]
        with self.services.db.read() as session:
            incident = incidents.by_channel(session, channel_id=channel_id)
        found = incident.id if incident is not None else None
        with self._channels_lock:
            if len(self._channels) >= CHANNELS_REMEMBERED:
                self._channels = {k: v for k, v in self._channels.items() if v[0] is not None}
            self._channels[channel_id] = (found, now + NO_INCIDENT_TTL)
        return found

    def _seen_recently(self, event_id: str) -> bool:
        """True when this process handled `event_id` lately (the database has the final say)."""
        with self._channels_lock:
            return event_id in self._recent

    def _remember(self, event_id: str) -> None:
        with self._channels_lock:
            self._recent[event_id] = None
            if len(self._recent) > RECENT_EVENTS:
                self._recent.pop(next(iter(self._recent)))

    def reaction_added(self, event: dict[str, Any], *, event_id: str | None) -> tl.Added | None:
        """A timeline emoji on a message in an incident channel puts the message on its timeline."""
        item = event.get("item") or {}
        if (
            item.get("type") != "message"
            or reaction_name(event.get("reaction", "")) not in self.emojis
        ):
            return None
        ref = MessageRef(str(item.get("channel", "")), str(item.get("ts", "")))
        incident_id = self.incident_id_of(ref.channel_id)
        if incident_id is None or (event_id and self._seen_recently(event_id)):
            return None
        message = self.directory.message(ref)
        if message is None or not self._still_marked(message):
            return None  # deleted, or the reaction was already taken back
        captured = self.captured(message, channel_id=ref.channel_id, permalink=None)
        with self.services.db.session() as session:
            outcome = tl.add_message(
                session,
                incident_id=incident_id,
                message=captured,
                added_via=tl.Via.REACTION,
                added_by=event.get("user"),
                event_id=event_id,
                event_type="reaction_added",
            )
        if event_id:
            self._remember(event_id)
        if outcome is tl.Added.ADDED:
            self.confirm(ref)
        return outcome

    def reaction_removed(self, event: dict[str, Any]) -> int:
        """The last timeline emoji taken off a message takes it off the timeline."""
        item = event.get("item") or {}
        if (
            item.get("type") != "message"
            or reaction_name(event.get("reaction", "")) not in self.emojis
        ):
            return 0
        ref = MessageRef(str(item.get("channel", "")), str(item.get("ts", "")))
        with self.services.db.read() as session:
            found = tl.entries_for_message(session, channel_id=ref.channel_id, message_ts=ref.ts)
        if not any(entry.added_via == tl.Via.REACTION.value for entry in found):
            return 0
        message = self.directory.message(ref)
        if message is None or self._still_marked(message):
            return 0
        with self.services.db.session() as session:
            removed = tl.remove_reacted(session, channel_id=ref.channel_id, message_ts=ref.ts)
        if removed and len(found) == removed:
            self.unconfirm(ref)
        return removed

    # -- edits and deletions ---------------------------------------------------------------

    def message_changed(self, event: dict[str, Any]) -> int:
        """An edited message updates its entries; a tombstone marks them deleted."""
        message = event.get("message") or {}
        channel, ts = str(event.get("channel", "")), str(message.get("ts", ""))
        with self.services.db.read() as session:
            if not tl.entries_for_message(session, channel_id=channel, message_ts=ts):
                return 0
        if message.get("subtype") == "tombstone":
            with self.services.db.session() as session:
                return tl.mark_deleted(session, channel_id=channel, message_ts=ts)
        text = self.directory.readable(message.get("text") or "")
        with self.services.db.session() as session:
            return tl.update_message(
                session,
                channel_id=channel,
                message_ts=ts,
                text=text,
                files=file_names(message),
                edited_ts=(message.get("edited") or {}).get("ts"),
            )

    def message_deleted(self, event: dict[str, Any]) -> int:
        """A deleted message marks its entries deleted."""
        channel = str(event.get("channel", ""))
        ts = str(event.get("deleted_ts") or (event.get("previous_message") or {}).get("ts") or "")
        with self.services.db.read() as session:
            if not tl.entries_for_message(session, channel_id=channel, message_ts=ts):
                return 0
        with self.services.db.session() as session:
            return tl.mark_deleted(session, channel_id=channel, message_ts=ts)

    # -- notes and the shortcut ------------------------------------------------------------

    def note(self, *, channel_id: str, user_id: str, text: str) -> Incident:
        """`/incident note <text>` in an incident channel; returns the incident."""
        name = self.directory.user_name(user_id) or user_id
        with self.services.db.session() as session:
            incident = incidents.in_channel(session, channel_id=channel_id)
            tl.add_note(
                session,
                incident=incident,
                author=user_id,
                author_name=name,
                text=self.directory.readable(text),
            )
            return incident

    def add_shared(
        self, *, incident_id: int, channel_id: str, message: dict[str, Any], user_id: str
    ) -> tl.Added:
        """The message shortcut: add any message (from any channel) to an incident's timeline."""
        ref = MessageRef(channel_id, str(message["ts"]))
        captured = self.captured(
            message,
            channel_id=channel_id,
            permalink=message.get("permalink") or self.directory.permalink(ref),
        )
        with self.services.db.session() as session:
            incidents.get(session, incident_id=incident_id)
            outcome = tl.add_message(
                session,
                incident_id=incident_id,
                message=captured,
                added_via=tl.Via.SHORTCUT,
                added_by=user_id,
            )
        if outcome is tl.Added.ADDED:
            self.confirm(ref)
        return outcome
