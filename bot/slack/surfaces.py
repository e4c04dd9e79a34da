"""The Slack side of an incident: its channel, topic, pinned card and broadcast line.

`IncidentSlack.setup` builds the surfaces after a declaration, one idempotent step at a
time, so a retry resumes where a Slack fault stopped it. `IncidentSlack.on_event` keeps
them current after every change. Both re-read the incident, so they always show the
latest committed state.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from slack_sdk.errors import SlackApiError
from sqlalchemy import or_, update
from sqlmodel import col

from blocks import incident as render
from bot import incidents
from bot.core.errors import DomainError
from bot.core.events import (
    IncidentDeclared,
    IncidentEvent,
    IncidentResolved,
    RoleAssigned,
    SeverityChanged,
    StatusChanged,
    UpdatePosted,
)
from bot.core.slack_text import escape
from bot.core.vocabulary import Role
from bot.incidents import IncidentView
from bot.incidents.channels import channel_name
from bot.slack import statuspage
from bot.stakeholders.config import Quadrant
from storage.models import Incident
from storage.types import utcnow

if TYPE_CHECKING:
    from bot.slack.services import Services

log = logging.getLogger(__name__)
T = TypeVar("T")

SETUP_STALE_AFTER = timedelta(minutes=2)
NAME_ATTEMPTS = 25
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{6,}$")


class SetupBusy(DomainError):
    """Another worker is setting up this incident right now."""


class NoFreeName(DomainError):
    """Every channel name tried was taken."""


def _slack_error(exc: SlackApiError) -> str:
    code = exc.response.get("error") if isinstance(exc.response.data, dict) else None
    status = exc.response.status_code
    http = f"HTTP {status}" if status != 200 else ""
    if code and http:
        return f"`{code}` ({http})"
    return f"`{code}`" if code else http


REFRESH_STRIPES = 64


class IncidentSlack:
    """Creates and updates the Slack surfaces of incidents."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.slack = services.slack
        self._broadcast_id: str | None = None
        # Refreshes of one incident run one at a time (striped by incident id), each from a
        # fresh read: the last chat.update always shows the latest committed state.
        self._refresh_locks = [threading.Lock() for _ in range(REFRESH_STRIPES)]

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
                self._broadcast_id = self._find_channel(wanted.lstrip("#"))
        return self._broadcast_id

    def _find_channel(self, name: str) -> str | None:
        for page in self.slack.conversations_list(
            types="public_channel,private_channel", exclude_archived=True, limit=200
        ):
            for channel in page.get("channels", []):
                if channel.get("name") == name:
                    return str(channel["id"])
        log.warning("INCIDENT_BROADCAST_CHANNEL #%s not found; not announcing", name)
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

    # -- setup -------------------------------------------------------------------------

    def _claim_setup(self, incident_id: int, *, take_over: bool = False) -> bool:
        """Atomically mark the setup as running; False if another worker holds it.

        `take_over`: also a setup marked running, however recently (the caller knows that
        whoever ran it is gone: the inbox gave it the declaration of a crashed replica).
        """
        now = utcnow()
        running = col(Incident.setup_state) == "running"
        if not take_over:
            running = running & (col(Incident.updated_at) < now - SETUP_STALE_AFTER)
        with self.services.db.session() as session:
            result = session.execute(
                update(Incident)
                .where(col(Incident.id) == incident_id)
                .where(or_(col(Incident.setup_state).in_(["pending", "failed"]), running))
                .values(setup_state="running", updated_at=now)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def setup(self, incident_id: int, *, take_over: bool = False) -> IncidentView:
        """Create channel, invite, topic, card and pin, broadcast, DM the manager.

        Every step is done once: a step whose result is recorded is skipped, and a setup that
        resumes one that stopped (a failure, a crash) first looks in Slack for what the
        stopped one may have made without recording it: the channel (by its name), the card,
        the announcement and the checklist (by their block ids).
        """
        state = self._view(incident_id).incident.setup_state
        if not self._claim_setup(incident_id, take_over=take_over):
            view = self._view(incident_id)
            if view.incident.setup_state == "complete":
                return view
            raise SetupBusy(f"Incident #{view.incident.number} is being set up right now.")
        resuming = take_over or state != "pending"
        step = "creating the incident channel"
        try:
            view = self._create_channel(self._view(incident_id), resuming=resuming)
            step = "inviting people to the channel"
            self._invite(view, [view.incident.declared_by, view.manager])
            step = "setting the channel topic"
            self.slack.conversations_setTopic(channel=self._channel(view), topic=render.topic(view))
            step = "posting the incident card"
            view = self._post_card(view, resuming=resuming)
            step = "announcing the incident"
            view = self._announce(view, resuming=resuming)
            step = "messaging the incident manager"
            if view.manager:
                self._send_checklist(view, view.manager, resuming=resuming)
        except (SlackApiError, NoFreeName) as exc:
            why = f"Slack answered {_slack_error(exc)}" if isinstance(exc, SlackApiError) else exc
            error = f"{step.capitalize()} failed: {why}."
            self._save(incident_id, setup_state="failed", setup_error=error, updated_at=utcnow())
            log.warning("setup of incident %s failed: %s", incident_id, error)
            self._tell_setup_failed(self._view(incident_id), error)
            raise
        self._save(incident_id, setup_state="complete", setup_error=None, updated_at=utcnow())
        return self._view(incident_id)

    def _create_channel(self, view: IncidentView, *, resuming: bool = False) -> IncidentView:
        inc = view.incident
        if inc.channel_id:
            return view
        assert inc.id is not None
        prefix = self.services.settings.incident_channel_prefix
        for attempt in range(NAME_ATTEMPTS):
            name = channel_name(prefix, inc.number, inc.title, attempt)
            try:
                channel = self.slack.conversations_create(name=name, is_private=inc.private)[
                    "channel"
                ]
            except SlackApiError as exc:
                if exc.response.get("error") != "name_taken":
                    raise
                channel = self._made_before(view, name) if resuming else None
                if channel is None:
                    log.info("channel name %s is taken; trying another", name)
                    continue
                log.info("incident %s: adopting #%s, made before a restart", inc.id, name)
            self._save(inc.id, channel_id=channel["id"], channel_name=channel["name"])
            return self._view(inc.id)
        raise NoFreeName(f"Slack answered `name_taken` for {NAME_ATTEMPTS} channel names.")

    def _made_before(self, view: IncidentView, name: str) -> dict[str, Any] | None:
        """The channel `name` if a stopped setup of this incident made it without recording it.

        That is: the bot created it, after the incident was declared, and no incident has it.
        """
        since = view.incident.declared_at.timestamp() - 60
        for page in self.slack.conversations_list(
            types="private_channel" if view.incident.private else "public_channel",
            exclude_archived=True,
            limit=1000,
        ):
            for channel in page.get("channels", []):
                if channel.get("name") != name:
                    continue
                if (
                    channel.get("creator") != self.services.directory.bot_user_id()
                    or channel.get("created", 0) < since
                ):
                    return None
                with self.services.db.read() as session:
                    taken = incidents.by_channel(session, channel_id=str(channel["id"]))
                return None if taken is not None else dict(channel)
        return None

    def _posted_before(self, channel: str, block_id: str, view: IncidentView) -> str | None:
        """The ts of the bot's message with `block_id` in `channel` since the declaration."""
        try:
            history = self.slack.conversations_history(
                channel=channel,
                oldest=f"{view.incident.declared_at.timestamp() - 60:.6f}",
                limit=200,
            )
        except SlackApiError as exc:
            log.warning("could not look for %s in %s: %s", block_id, channel, _slack_error(exc))
            return None
        messages: list[dict[str, Any]] = history.get("messages") or []
        for message in messages:
            if message.get("user") != self.services.directory.bot_user_id() and not message.get(
                "bot_id"
            ):
                continue
            if any(block.get("block_id") == block_id for block in message.get("blocks") or []):
                return str(message["ts"])
        return None

    def _invite(self, view: IncidentView, users: list[str | None]) -> None:
        wanted = {u for u in users if u and u != self.services.directory.bot_user_id()}
        for user in sorted(wanted):  # one by one: one bad id must not block the others
            try:
                self.slack.conversations_invite(channel=self._channel(view), users=user)
            except SlackApiError as exc:
                code = exc.response.get("error")
                if code in ("already_in_channel", "cant_invite_self"):
                    continue
                if code in ("user_not_found", "user_is_restricted", "user_disabled"):
                    log.warning("could not invite %s: %s", user, code)
                    continue
                raise

    def _post_card(self, view: IncidentView, *, resuming: bool = False) -> IncidentView:
        inc = view.incident
        assert inc.id is not None
        if not inc.card_ts:
            channel = self._channel(view)
            ts = self._posted_before(channel, f"incident_card_{inc.id}", view) if resuming else None
            if ts is None:
                ts = self.slack.chat_postMessage(
                    channel=channel, text=render.card_text(view), blocks=render.card_blocks(view)
                )["ts"]
            self._save(inc.id, card_ts=ts)
            view = self._view(inc.id)
        try:
            self.slack.pins_add(channel=self._channel(view), timestamp=view.incident.card_ts)
        except SlackApiError as exc:
            if exc.response.get("error") != "already_pinned":
                raise
        return view

    def _announce(self, view: IncidentView, *, resuming: bool = False) -> IncidentView:
        inc = view.incident
        assert inc.id is not None
        if inc.private or inc.broadcast_ts:
            return view
        channel = self.broadcast_channel()
        if channel is None:
            return view
        block_id = f"incident_broadcast_{inc.id}"
        ts = self._posted_before(channel, block_id, view) if resuming else None
        if ts is None:
            response = self.slack.chat_postMessage(
                channel=channel,
                text=f"New incident: {render.card_text(view)}",
                blocks=render.broadcast_blocks(view, now=utcnow()),
                unfurl_links=False,
            )
            channel, ts = response["channel"], response["ts"]
        self._save(inc.id, broadcast_channel_id=channel, broadcast_ts=ts)
        return self._view(inc.id)

    def _send_checklist(self, view: IncidentView, user: str, *, resuming: bool = False) -> None:
        if user == self.services.directory.bot_user_id():
            return
        if resuming:
            dm = str(self.slack.conversations_open(users=user)["channel"]["id"])
            if self._posted_before(dm, f"incident_checklist_{view.incident.id}", view):
                return
        managers = self.services.settings.stakeholders.in_quadrants(
            Quadrant.MANAGE_CLOSELY, Quadrant.KEEP_SATISFIED
        )
        self.slack.chat_postMessage(
            channel=user,
            text=render.checklist_text(view),
            blocks=render.checklist_blocks(view, email_managers=bool(managers)),
        )

    def _tell_setup_failed(self, view: IncidentView, error: str) -> None:
        declarer = view.incident.declared_by
        try:
            self.slack.chat_postMessage(
                channel=declarer,
                text=render.setup_failed_text(view, error),
                blocks=render.setup_failed_blocks(view, error),
            )
        except SlackApiError:
            log.exception("could not tell %s that setup failed", declarer)

    # -- keeping surfaces current ----------------------------------------------------

    def on_event(self, event: IncidentEvent) -> None:
        """Event-bus subscriber: set up new incidents, reflect every later change."""
        if isinstance(event, IncidentDeclared):
            # A failure is recorded on the incident and told to the declarer.
            with contextlib.suppress(SlackApiError, NoFreeName, SetupBusy):
                self.setup(event.incident_id)
            return
        view = self._view(event.incident_id)
        if not view.incident.channel_id:
            return  # setup has not created the channel; a retry will show the latest state
        failed: list[str] = []
        if isinstance(event, UpdatePosted):
            self._post_update(view, event, failed)
        else:
            self._try(
                "the notice in the incident channel", failed, lambda: self._notify(view, event)
            )
        failed += self.refresh(view)
        if failed:
            self._tell_not_updated(view, event.actor, failed)

    def _try(self, surface: str, failed: list[str], call: Callable[[], T]) -> T | None:
        """Run one Slack call for one surface; a failure is noted in `failed`, not raised, so
        the other surfaces are still brought up to date."""
        try:
            return call()
        except SlackApiError as exc:
            reason = f"Slack answered {_slack_error(exc)}"
            log.warning("updating %s failed: %s", surface, reason)
        except Exception:
            reason = "an error on our side, logged"
            log.exception("updating %s failed", surface)
        failed.append(f"{surface} ({reason})")
        return None

    def _tell_not_updated(self, view: IncidentView, user: str, failed: list[str]) -> None:
        """Tell the person who made the change (privately) which surfaces Slack refused."""
        if not user or user[:1] not in ("U", "W") or user == self.services.directory.bot_user_id():
            return
        text = (
            ":warning: Your change is saved, but not everything in Slack shows it yet: "
            + "; ".join(failed)
            + ". Everything else is up to date; the next change to the incident tries again."
        )
        try:
            self.slack.chat_postEphemeral(channel=self._channel(view), user=user, text=text)
        except SlackApiError:  # not in the channel, say: a direct message instead
            try:
                self.slack.chat_postMessage(channel=user, text=text)
            except SlackApiError as exc:
                log.warning("could not tell %s what was not updated: %s", user, _slack_error(exc))

    def refresh(self, view: IncidentView) -> list[str]:
        """Bring topic, card and broadcast line up to date (with the latest state), each on
        its own: one failing leaves the others current. Returns the ones that failed."""
        assert view.incident.id is not None
        with self._refresh_locks[view.incident.id % REFRESH_STRIPES]:
            return self._refresh(self._view(view.incident.id))

    def _refresh(self, view: IncidentView) -> list[str]:
        inc, failed = view.incident, list[str]()
        channel = self._channel(view)
        card_ts, where, line_ts = inc.card_ts, inc.broadcast_channel_id, inc.broadcast_ts
        self._try(
            "the channel topic",
            failed,
            lambda: self.slack.conversations_setTopic(channel=channel, topic=render.topic(view)),
        )
        if card_ts:
            self._try(
                "the pinned incident card",
                failed,
                lambda: self.slack.chat_update(
                    channel=channel,
                    ts=card_ts,
                    text=render.card_text(view),
                    blocks=render.card_blocks(view),
                ),
            )
        if line_ts and where and not inc.private:  # private: never in the broadcast channel
            self._try(
                "the line in the broadcast channel",
                failed,
                lambda: self.slack.chat_update(
                    channel=where,
                    ts=line_ts,
                    text=render.card_text(view),
                    blocks=render.broadcast_blocks(view, now=utcnow()),
                ),
            )
        return failed

    def _notify(self, view: IncidentView, event: IncidentEvent) -> None:
        inc, actor = view.incident, f"<@{event.actor}>"
        match event:
            case StatusChanged(old=old, new=new):
                text = (
                    f":arrows_counterclockwise: {actor} changed the status from "
                    f"{old.label} to *{new.label}*."
                )
            case SeverityChanged(old=old_severity, new=new_severity):
                text = (
                    f":rotating_light: {actor} changed the severity from "
                    f"{old_severity.label} to *{new_severity.label}*."
                )
            case RoleAssigned(role=role, user=user, previous=previous):
                self._invite(view, [user])
                if previous:
                    text = (
                        f":handshake: Handover: {actor} gave the {role.label.lower()} role "
                        f"from <@{previous}> to <@{user}>."
                    )
                else:
                    text = f":bust_in_silhouette: {actor} made <@{user}> the {role.label.lower()}."
                if role is Role.INCIDENT_MANAGER:
                    self._send_checklist(view, user)
            case IncidentResolved():
                how = f"\n*Resolution:* {escape(inc.resolution)}" if inc.resolution else ""
                text = f":white_check_mark: {actor} resolved the incident.{how}"
            case _:
                return
        self.slack.chat_postMessage(channel=self._channel(view), text=text)

    def _post_update(self, view: IncidentView, event: UpdatePosted, failed: list[str]) -> None:
        inc = view.incident
        new_status = event.new_status.value if event.status_changed else None
        blocks = render.update_blocks(
            view, author=event.actor, message=event.message, new_status=new_status
        )
        text = escape(f"Update on {render.headline(view)}: {event.message}")
        posted = self._try(
            "the update in the incident channel",
            failed,
            lambda: self.slack.chat_postMessage(
                channel=self._channel(view), text=text, blocks=blocks
            ),
        )
        reply, where, line_ts = None, inc.broadcast_channel_id, inc.broadcast_ts
        if line_ts and where and not inc.private:
            reply = self._try(
                "the update under the broadcast line",
                failed,
                lambda: self.slack.chat_postMessage(
                    channel=where,
                    thread_ts=line_ts,
                    text=text,
                    blocks=blocks,
                ),
            )
        with self.services.db.session() as session:
            incidents.record_update_messages(
                session,
                update_id=event.update_id,
                channel_ts=posted["ts"] if posted else None,
                broadcast_ts=reply["ts"] if reply else None,
            )
