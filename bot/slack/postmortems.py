"""The Slack side of post-mortems: opening one on resolve, posting the document as files.

Two outbox subscribers: `on_resolved` opens the post-mortem of a resolved incident (its
due date and its owner's reminder, through `Services.apply`, which enqueues PostmortemOpened,
the same event however often this runs); `on_change` drafts the document again after every
post-mortem event and posts it to the incident's channel: the document and the
customer-facing draft as Markdown files, then a message with its owner, due date, state and
the Edit / Mark complete buttons, carrying the delivery id, so that a retry finds what an
earlier attempt posted. `publish` does the same on demand.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from slack_sdk import WebClient

from blocks import postmortems as render
from bot import incidents, postmortems
from bot.core.events import (
    Delivery,
    IncidentResolved,
    PostmortemCompleted,
    PostmortemEdited,
    PostmortemEvent,
    PostmortemOpened,
)
from bot.followups.policy import FollowUpPolicy
from bot.slack.keyed import HISTORY_SLACK, LeaseLost, find, metadata, part_key
from bot.slack.services import Services
from storage.models_postmortems import PostMortem

log = logging.getLogger(__name__)


class PostmortemSlack:
    """Drafts post-mortems and posts them to incident channels."""

    def __init__(self, services: Services, *, slack: WebClient | None = None) -> None:
        self.services = services
        self.slack = slack or services.slack
        self.policy = FollowUpPolicy.from_settings(services.settings)

    def name_of(self, incident_id: int) -> postmortems.NameOf:
        """A lookup of the names of everyone the post-mortem may mention (asked beforehand)."""
        with self.services.db.read() as session:
            ids = postmortems.people(session, incident_id=incident_id)
        names = {u: self.services.directory.user_name(u) for u in ids}
        return lambda user_id: names.get(user_id)

    def draft(self, incident_id: int) -> PostMortem:
        """Render the documents from the current facts and keep them."""
        name_of = self.name_of(incident_id)
        with self.services.db.session() as session:
            return postmortems.render(
                session,
                incident_id=incident_id,
                name_of=name_of,
                template_path=self.services.settings.postmortem_template,
                template_includes=self.services.settings.postmortem_includes,
            )

    def publish(
        self, incident_id: int, *, note: str = "", delivery: Delivery | None = None
    ) -> PostMortem:
        """Draft again and post the latest documents to the incident's channel (once per
        `delivery`: an earlier attempt's files and message are found, not posted again)."""
        delivery = delivery or Delivery.once()
        pm = self.draft(incident_id)
        with self.services.db.read() as session:
            view = incidents.view(session, incident_id=incident_id)
        channel = view.incident.channel_id
        if not channel:
            log.info("incident %s has no channel yet; post-mortem not posted", incident_id)
            return pm
        number = view.incident.number
        key = part_key(delivery, "document")
        uploaded = False
        if delivery.check_first:
            found = find(self.slack, channel, key, delivery)
            if found is not None:
                self._record(incident_id, channel, found.ts)
                return pm
            if not delivery.renew():
                raise LeaseLost(key)
            uploaded = self._uploaded_since(channel, number, delivery)
        if not uploaded:
            self.slack.files_upload_v2(
                channel=channel,
                initial_comment=f":page_facing_up: Post-mortem of incident #{number}, "
                f"version {pm.version}.",
                file_uploads=[
                    {
                        "content": pm.document,
                        "filename": _document_name(number),
                        "title": f"Post-mortem: #{number} {view.incident.title}"[:250],
                    },
                    {
                        "content": pm.customer,
                        "filename": f"incident-{number}-customer-draft.md",
                        "title": f"Customer-facing draft: incident #{number}",
                    },
                ],
            )
        owner = pm.owner or view.manager
        posted = self.slack.chat_postMessage(
            channel=channel,
            text=render.document_text(view, pm),
            blocks=render.document_blocks(view, pm, owner=owner, note=note),
            metadata=metadata(key),
        )
        self._record(incident_id, channel, posted.get("ts"))
        return pm

    def _record(self, incident_id: int, channel: str, ts: str | None) -> None:
        with self.services.db.session() as session:
            postmortems.record_post(
                session, incident_id=incident_id, channel_id=channel, message_ts=ts
            )

    def _uploaded_since(self, channel: str, number: int, delivery: Delivery) -> bool:
        """True when the documents were shared in the channel since the delivery began (an
        earlier attempt got as far as the files)."""
        since = delivery.since or view_epoch()
        page = self.slack.conversations_history(
            channel=channel, oldest=f"{(since - HISTORY_SLACK).timestamp():.6f}", limit=200
        )
        messages: list[dict[str, Any]] = page.get("messages") or []
        return any(
            f.get("name") == _document_name(number)
            for message in messages
            for f in message.get("files") or []
        )

    def on_resolved(self, event: IncidentResolved, delivery: Delivery) -> None:
        """Outbox subscriber: a resolved incident's post-mortem opens (PostmortemOpened, at
        the resolution's time: a second run enqueues nothing new)."""
        self.services.apply(
            lambda session: postmortems.on_resolved(
                session,
                incident_id=event.incident_id,
                policy=self.policy,
                actor=event.actor,
                now=event.at,
            )[1]
        )

    def on_change(self, event: PostmortemEvent, delivery: Delivery) -> None:
        """Outbox subscriber: draft the post-mortem again and post it, saying why."""
        match event:
            case PostmortemOpened():
                note = "Drafted when the incident was resolved."
            case PostmortemEdited():
                note = f"Edited by <@{event.actor}>."
            case PostmortemCompleted():
                note = f"Marked complete by <@{event.actor}>."
            case _:
                note = ""
        self.publish(event.incident_id, note=note, delivery=delivery)


def _document_name(number: int) -> str:
    return f"incident-{number}-postmortem.md"


def view_epoch() -> datetime:
    """The start of time, for a look-up without a start."""
    return datetime.fromtimestamp(0, UTC)
