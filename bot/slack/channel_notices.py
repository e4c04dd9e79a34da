"""Messages about an incident's changes: notices in its channel, updates, the manager's
checklist, and telling the declarer that setup failed.

Each method is an outbox subscriber (`bot.slack.subscribers`), idempotent by its delivery id:
every message goes out through `bot.slack.keyed.post_once`, which finds an earlier attempt's
message instead of posting it twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from blocks import incident as render
from bot import incidents
from bot.core.events import (
    Delivery,
    Event,
    IncidentDeclared,
    IncidentEvent,
    IncidentResolved,
    NotUpdated,
    RoleAssigned,
    SetupFailed,
    SeverityChanged,
    StatusChanged,
    StatusPagePublished,
    UpdatePosted,
)
from bot.core.slack_text import escape
from bot.core.vocabulary import Role
from bot.incidents import IncidentView
from bot.slack import statuspage
from bot.slack.keyed import LeaseLost, PartFailed, post_once
from bot.stakeholders.config import Quadrant

if TYPE_CHECKING:
    from bot.slack.services import Services


class IncidentNotices:
    """Posts what changed, where people expect to read it."""

    def __init__(self, services: Services, *, slack: WebClient | None = None) -> None:
        self.services = services
        self.slack = slack or services.slack

    def _view(self, incident_id: int) -> IncidentView:
        with self.services.db.read() as session:
            view = incidents.view(session, incident_id=incident_id)
            return statuspage.attach(self.services, session, view)  # on the status page?

    def send_checklist(self, event: IncidentEvent, delivery: Delivery) -> None:
        """The new incident manager's checklist, by direct message."""
        view = self._view(event.incident_id)
        if isinstance(event, IncidentDeclared):
            user = view.manager
        elif isinstance(event, RoleAssigned) and event.role is Role.INCIDENT_MANAGER:
            user = event.user
        else:
            return
        if not user or user == self.services.directory.bot_user_id():
            return
        managers = self.services.settings.stakeholders.in_quadrants(
            Quadrant.MANAGE_CLOSELY, Quadrant.KEEP_SATISFIED
        )
        post_once(
            self.slack,
            delivery,
            channel=user,
            text=render.checklist_text(view),
            blocks=render.checklist_blocks(view, email_managers=bool(managers)),
        )

    def post_notice(self, event: Event, delivery: Delivery) -> None:
        """Say in the incident's channel what changed (an update: also under the broadcast
        line)."""
        view = self._view(event.incident_id)
        inc, actor = view.incident, f"<@{event.actor}>"
        match event:
            case UpdatePosted():
                self._post_update(view, event, delivery)
                return
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
                if previous:
                    text = (
                        f":handshake: Handover: {actor} gave the {role.label.lower()} role "
                        f"from <@{previous}> to <@{user}>."
                    )
                else:
                    text = f":bust_in_silhouette: {actor} made <@{user}> the {role.label.lower()}."
            case StatusPagePublished(message=message, url=url):
                text = (
                    f":globe_with_meridians: {actor} updated <{url}|the status page>: "
                    f"{escape(message)}"
                )
            case IncidentResolved():
                how = f"\n*Resolution:* {escape(inc.resolution)}" if inc.resolution else ""
                text = f":white_check_mark: {actor} resolved the incident.{how}"
            case _:
                return
        assert inc.channel_id is not None
        post_once(self.slack, delivery, channel=inc.channel_id, text=text, unfurl_links=False)

    def _post_update(self, view: IncidentView, event: UpdatePosted, delivery: Delivery) -> None:
        inc = view.incident
        assert inc.channel_id is not None
        new_status = event.new_status.value if event.status_changed else None
        blocks = render.update_blocks(
            view, author=event.actor, message=event.message, new_status=new_status
        )
        text = escape(f"Update on {render.headline(view)}: {event.message}")
        failed: PartFailed | None = None
        channel_ts = thread_ts = None
        try:
            channel_ts = post_once(
                self.slack,
                delivery,
                channel=inc.channel_id,
                text=text,
                blocks=blocks,
                part="channel",
            ).ts
        except LeaseLost:
            raise
        except Exception as exc:  # the broadcast thread still gets the update
            failed = PartFailed("the update in the incident channel", exc)
        if inc.broadcast_ts and inc.broadcast_channel_id and not inc.private:
            try:
                thread_ts = post_once(
                    self.slack,
                    delivery,
                    channel=inc.broadcast_channel_id,
                    thread_ts=inc.broadcast_ts,
                    text=text,
                    blocks=blocks,
                    part="broadcast",
                ).ts
            except LeaseLost:
                raise
            except Exception as exc:
                failed = failed or PartFailed("the update under the broadcast line", exc)
        with self.services.db.session() as session:
            incidents.record_update_messages(
                session, update_id=event.update_id, channel_ts=channel_ts, broadcast_ts=thread_ts
            )
        if failed is not None:
            raise failed

    def tell_not_updated(self, event: NotUpdated, delivery: Delivery) -> None:
        """Tell whoever made a change, privately, where Slack does not show it."""
        user = event.actor
        if user == self.services.directory.bot_user_id():
            return
        view = self._view(event.incident_id)
        text = (
            ":warning: Your change is saved, but not everything in Slack shows it yet: "
            f"{event.what}. Everything else is up to date; the next change to the incident "
            "tries again."
        )
        if view.incident.channel_id:
            try:  # an ephemeral message cannot be found again: a retry may show it twice
                self.slack.chat_postEphemeral(
                    channel=view.incident.channel_id, user=user, text=text
                )
                return
            except SlackApiError:  # not in the channel, say: a direct message instead
                pass
        post_once(self.slack, delivery, channel=user, text=text)

    def tell_setup_failed(self, event: SetupFailed, delivery: Delivery) -> None:
        """Tell the declarer the setup stopped, why, and offer to retry it."""
        view = self._view(event.incident_id)
        post_once(
            self.slack,
            delivery,
            channel=view.incident.declared_by,
            text=render.setup_failed_text(view, event.error),
            blocks=render.setup_failed_blocks(view, event.error),
        )
