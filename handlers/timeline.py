"""Timeline listeners: reactions, `/incident note`, `/incident timeline`, the message shortcut.

Edits and deletions arrive as `message` events; handlers/events.py hands them to
`message_changed` and `message_deleted` here.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from blocks.ids import Action, Callback, Field
from blocks.timeline import (
    PER_PAGE,
    clamp_page,
    pick_incident_modal,
    timeline_blocks,
    timeline_text,
)
from bot import incidents
from bot import timeline as tl
from bot.core.errors import NotFound
from bot.core.vocabulary import Status
from bot.slack.services import Services
from bot.slack.timeline_capture import TimelineCapture, file_names
from handlers import action_items
from handlers.commands import route
from handlers.context import CommandRequest, services_of
from handlers.guard import guarded
from handlers.payloads import metadata, state_value

log = logging.getLogger(__name__)

METADATA_MAX = 3000  # Slack's limit on a view's private_metadata


def capture_of(services: Services) -> TimelineCapture:
    """The timeline capture (built with the services)."""
    return services.timeline


# -- reading ------------------------------------------------------------------------------


def _page(services: Services, incident_id: int, page: int) -> tuple[str, list[Any]]:
    with services.db.read() as session:
        view = incidents.view(session, incident_id=incident_id)
        total = tl.count(session, incident_id=incident_id)
        page = clamp_page(page, total)
        rows = tl.entries(session, incident_id=incident_id, offset=page * PER_PAGE, limit=PER_PAGE)
    emojis = sorted(services.settings.timeline_emojis)
    blocks = timeline_blocks(view, rows, total=total, page=page, emojis=emojis)
    return timeline_text(view, total), blocks


@route("timeline")
def timeline_command(request: CommandRequest) -> None:
    """`/incident timeline`: the first page, only for the person who asked."""
    with request.services.db.read() as session:
        incident = incidents.in_channel(session, channel_id=request.channel_id)
    assert incident.id is not None
    text, blocks = _page(request.services, incident.id, 0)
    request.respond(text=text, blocks=blocks, response_type="ephemeral")


def turn_page(ack: Ack, body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    """Earlier / Later: show another page in place."""
    ack()
    incident_id, _, page = body["actions"][0]["value"].partition(":")
    text, blocks = _page(services_of(context), int(incident_id), int(page or 0))
    respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=True)


def download(
    ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext
) -> None:
    """Send the whole timeline as a Markdown file in a direct message."""
    ack()
    services = services_of(context)
    incident_id = int(body["actions"][0]["value"])
    user = body["user"]["id"]
    with services.db.read() as session:
        incident = incidents.get(session, incident_id=incident_id)
        content = tl.markdown(session, incident_id=incident_id)
    dm = client.conversations_open(users=user)["channel"]["id"]
    client.files_upload_v2(
        channel=dm,
        content=content,
        filename=f"incident-{incident.number}-timeline.md",
        title=f"Timeline of incident #{incident.number}",
    )
    respond(
        text=f"I sent you the timeline of incident #{incident.number} as a file.",
        response_type="ephemeral",
        replace_original=False,
    )


# -- writing ------------------------------------------------------------------------------


@route("note")
def note_command(request: CommandRequest) -> None:
    """`/incident note <text>`: a manual entry at the current time."""
    incident = capture_of(request.services).note(
        channel_id=request.channel_id, user_id=request.user_id, text=request.args
    )
    request.respond(
        text=f":memo: Noted on the timeline of incident #{incident.number}.",
        response_type="ephemeral",
    )


def reaction_added(
    ack: Ack, body: dict[str, Any], event: dict[str, Any], context: BoltContext
) -> None:
    """A timeline emoji put a message on the timeline (once, however often it is delivered)."""
    ack()
    action_items.reaction_added(event, context)  # the action-item emoji shares this listener
    capture_of(services_of(context)).reaction_added(event, event_id=body.get("event_id"))


def reaction_removed(ack: Ack, event: dict[str, Any], context: BoltContext) -> None:
    """The last timeline emoji taken off takes the message off the timeline."""
    ack()
    capture_of(services_of(context)).reaction_removed(event)


def message_changed(event: dict[str, Any], context: BoltContext) -> None:
    """An edit updates the entry (called by handlers/events.py, already acknowledged)."""
    capture_of(services_of(context)).message_changed(event)


def message_deleted(event: dict[str, Any], context: BoltContext) -> None:
    """A deletion marks the entry deleted (called by handlers/events.py)."""
    capture_of(services_of(context)).message_deleted(event)


# -- the message shortcut -----------------------------------------------------------------


def _tell(response_url: str | None, text: str) -> None:
    if not response_url:
        return
    try:
        WebhookClient(response_url).send(text=text, response_type="ephemeral")
    except Exception:
        log.exception("could not answer on the response_url")


def _outcome_text(outcome: tl.Added, number: int) -> str:
    if outcome is tl.Added.ADDED:
        return f":memo: Added to the timeline of incident #{number}."
    return f"That message is already on the timeline of incident #{number}."


def _shortcut_metadata(channel: str, message: dict[str, Any], response_url: str | None) -> str:
    """The message to add, packed into a view's private_metadata (its text cut to fit)."""
    data: dict[str, Any] = {
        "channel": channel,
        "response_url": response_url,
        "message": {
            key: message[key]
            for key in ("ts", "thread_ts", "user", "bot_id", "username", "edited")
            if message.get(key)
        },
        "files": [name[:100] for name in file_names(message)[:20]],
    }
    text = message.get("text") or ""
    while True:
        data["message"]["text"] = text
        packed = json.dumps(data, separators=(",", ":"))
        if len(packed) <= METADATA_MAX or not text:
            return packed
        # JSON may spend up to 6 characters on one of the text's: halve while far over.
        text = text[: max(len(text) - (len(packed) - METADATA_MAX) - 1, len(text) // 2)]


def _choices(services: Services) -> list[incidents.IncidentView]:
    with services.db.read() as session:
        views = incidents.list_incidents(session, include_resolved=True)
    return sorted(views, key=lambda v: (v.status is Status.RESOLVED, -v.incident.number))


def add_to_timeline(
    ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext
) -> None:
    """Message shortcut: in an incident channel add at once; elsewhere ask which incident."""
    ack()
    services = services_of(context)
    channel = body["channel"]["id"]
    message = body.get("message") or {}
    user = body["user"]["id"]
    with services.db.read() as session:
        incident = incidents.by_channel(session, channel_id=channel)
    if incident is not None:
        assert incident.id is not None
        outcome = capture_of(services).add_shared(
            incident_id=incident.id, channel_id=channel, message=message, user_id=user
        )
        respond(text=_outcome_text(outcome, incident.number), response_type="ephemeral")
        return
    views = _choices(services)
    if not views:
        respond(text="There is no incident to add this message to.", response_type="ephemeral")
        return
    packed = _shortcut_metadata(channel, message, body.get("response_url"))
    client.views_open(
        trigger_id=body["trigger_id"],
        view=pick_incident_modal(views, metadata=packed, preview=message.get("text") or ""),
    )


def submit_pick(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    """The incident picker: add the message to the chosen incident's timeline."""
    chosen = state_value(view, Field.INCIDENT)
    if not chosen:
        ack(response_action="errors", errors={Field.INCIDENT.value: "Choose an incident."})
        return
    ack()
    services = services_of(context)
    data = metadata(view)
    message = {**data["message"], "files": [{"name": n} for n in data.get("files", [])]}
    try:
        with services.db.read() as session:
            number = incidents.get(session, incident_id=int(chosen)).number
    except (NotFound, ValueError):
        _tell(data.get("response_url"), "That incident no longer exists.")
        return
    outcome = capture_of(services).add_shared(
        incident_id=int(chosen),
        channel_id=data["channel"],
        message=message,
        user_id=body["user"]["id"],
    )
    _tell(data.get("response_url"), _outcome_text(outcome, number))


def register(app: App) -> None:
    """Register timeline listeners."""
    app.event("reaction_added")(guarded(reaction_added))
    app.event("reaction_removed")(guarded(reaction_removed))
    app.shortcut(Callback.ADD_TO_TIMELINE.value)(guarded(add_to_timeline))
    app.view(Callback.TIMELINE_PICK_MODAL.value)(guarded(submit_pick))
    app.action(Action.TIMELINE_EARLIER.value)(guarded(turn_page))
    app.action(Action.TIMELINE_LATER.value)(guarded(turn_page))
    app.action(Action.TIMELINE_DOWNLOAD.value)(guarded(download))
