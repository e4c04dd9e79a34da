"""The Slack side of post-mortems: opening one on resolve, posting the document as files.

Two event-bus subscribers: `on_resolved` opens the post-mortem of a resolved incident (its
due date and its owner's reminder, through `Services.apply`, which publishes
PostmortemOpened); `on_change` drafts the document again after every post-mortem event and
posts it to the incident's channel: the document and the customer-facing draft as Markdown
files, then a message with its owner, due date, state and the Edit / Mark complete buttons.
`publish` does the same on demand.
"""

from __future__ import annotations

import logging

from blocks import postmortems as render
from bot import incidents, postmortems
from bot.core.events import (
    IncidentResolved,
    PostmortemCompleted,
    PostmortemEdited,
    PostmortemEvent,
    PostmortemOpened,
)
from bot.followups.policy import FollowUpPolicy
from bot.slack.services import Services
from storage.models_postmortems import PostMortem

log = logging.getLogger(__name__)


class PostmortemSlack:
    """Drafts post-mortems and posts them to incident channels."""

    def __init__(self, services: Services) -> None:
        self.services = services
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

    def publish(self, incident_id: int, *, note: str = "") -> PostMortem:
        """Draft again and post the latest documents to the incident's channel."""
        pm = self.draft(incident_id)
        with self.services.db.read() as session:
            view = incidents.view(session, incident_id=incident_id)
        channel = view.incident.channel_id
        if not channel:
            log.info("incident %s has no channel yet; post-mortem not posted", incident_id)
            return pm
        number = view.incident.number
        slack = self.services.slack
        slack.files_upload_v2(
            channel=channel,
            initial_comment=f":page_facing_up: Post-mortem of incident #{number}, "
            f"version {pm.version}.",
            file_uploads=[
                {
                    "content": pm.document,
                    "filename": f"incident-{number}-postmortem.md",
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
        posted = slack.chat_postMessage(
            channel=channel,
            text=render.document_text(view, pm),
            blocks=render.document_blocks(view, pm, owner=owner, note=note),
        )
        with self.services.db.session() as session:
            postmortems.record_post(
                session, incident_id=incident_id, channel_id=channel, message_ts=posted.get("ts")
            )
        return pm

    def on_resolved(self, event: IncidentResolved) -> None:
        """Event-bus subscriber: a resolved incident's post-mortem opens (PostmortemOpened)."""
        self.services.apply(
            lambda session: postmortems.on_resolved(
                session,
                incident_id=event.incident_id,
                policy=self.policy,
                actor=event.actor,
                now=event.at,
            )[1]
        )

    def on_change(self, event: PostmortemEvent) -> None:
        """Event-bus subscriber: draft the post-mortem again and post it, saying why."""
        match event:
            case PostmortemOpened():
                note = "Drafted when the incident was resolved."
            case PostmortemEdited():
                note = f"Edited by <@{event.actor}>."
            case PostmortemCompleted():
                note = f"Marked complete by <@{event.actor}>."
            case _:
                note = ""
        self.publish(event.incident_id, note=note)
