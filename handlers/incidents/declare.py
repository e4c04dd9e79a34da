"""Declaring: the command, the shortcuts and the Home button open one modal; submit creates."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from blocks.ids import Action, Callback, Field
from blocks.modals import declare_modal
from bot import incidents, outbox
from bot.core.errors import InvalidInput
from bot.slack.directory import MessageRef
from bot.slack.operations import declare_incident
from handlers.commands import route
from handlers.context import CommandRequest, ack_then, services_of
from handlers.errors import new_reference
from handlers.guard import guarded
from handlers.payloads import metadata, state_value

log = logging.getLogger(__name__)


@route("declare")
def declare_command(request: CommandRequest) -> None:
    """`/incident declare [title]` opens the form with the title filled in."""
    request.client.views_open(
        trigger_id=request.trigger_id,
        view=declare_modal(user_id=request.user_id, title=request.args),
    )


def declare_shortcut(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    """Global shortcut "Declare incident"."""
    ack()
    client.views_open(trigger_id=body["trigger_id"], view=declare_modal(user_id=body["user"]["id"]))


def declare_from_home(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    """The App Home's Declare button."""
    ack()
    client.views_open(trigger_id=body["trigger_id"], view=declare_modal(user_id=body["user"]["id"]))


def declare_from_message(
    ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """Message shortcut: the summary starts as the message, with a link to it."""
    ack()
    trigger_id = body["trigger_id"]
    channel = body["channel"]["id"]
    message = body.get("message", {})
    ts = message.get("ts", "")
    permalink = services_of(context).directory.permalink(MessageRef(channel, ts)) or ""
    text = message.get("text", "")
    summary = f"{text}\n\nFrom: {permalink}" if permalink else text
    origin = {"channel": channel, "ts": ts, "permalink": permalink}
    client.views_open(
        trigger_id=trigger_id,
        view=declare_modal(user_id=body["user"]["id"], summary=summary, origin=origin),
    )


def submit_declare(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """Validate, close the modal, record the incident, then build its channel and card.

    The modal closes as soon as the input is valid, so Slack gets its answer in a few
    milliseconds however busy the bot is; one incident per form is still guaranteed by the
    database (the form's view id is the incident's unique declare_key). If recording fails,
    the declarer gets a direct message with what they entered.
    """
    services = services_of(context)
    user = body["user"]["id"]
    form = {
        "title": state_value(view, Field.TITLE) or "",
        "severity": state_value(view, Field.SEVERITY),
        "summary": state_value(view, Field.SUMMARY) or "",
        "impact": state_value(view, Field.IMPACT) or "",
    }
    try:
        incidents.validate_declaration(title=form["title"], severity=form["severity"])
    except InvalidInput as exc:
        ack(response_action="errors", errors=exc.fields)
        return
    origin = metadata(view)
    fields = {
        **form,
        "manager": state_value(view, Field.MANAGER) or user,
        "private": "private" in (state_value(view, Field.PRIVATE) or []),
        "declared_by": user,
        "declare_key": f"view:{view['id']}",
        "origin_channel_id": origin.get("channel") or None,
        "origin_message_ts": origin.get("ts") or None,
        "origin_permalink": origin.get("permalink") or None,
    }

    def record() -> None:
        try:
            incident, created = declare_incident(services, **fields)  # publishes its event
        except Exception as exc:
            _declare_failed(client, user=user, form=form, error=exc)
            return
        if not created:
            log.info(
                "declare form %s submitted again; incident #%s exists", view_id, incident.number
            )

    view_id = view["id"]
    ack_then(ack, record)  # the form's payload is not kept while the work waits for a slot


def _declare_failed(
    client: WebClient, *, user: str, form: dict[str, Any], error: Exception
) -> None:
    """Tell the declarer that nothing was created, and give them back what they typed."""
    reference = new_reference()
    log.error("could not record a declared incident (reference %s)", reference, exc_info=error)
    entered = "\n".join(
        f"*{label}:* {form[key]}"
        for key, label in (
            ("title", "Title"),
            ("severity", "Severity"),
            ("summary", "Summary"),
            ("impact", "Impact"),
        )
        if form.get(key)
    )
    text = (
        f":x: Your incident could not be recorded, so nothing was created (reference "
        f"`{reference}` for whoever runs the incident bot). Declare it again with "
        f"`/incident declare`; this is what you entered:\n{entered}"
    )
    try:
        client.chat_postMessage(channel=user, text=text)
    except Exception:
        log.exception("could not tell %s that declaring failed (reference %s)", user, reference)


def retry_setup(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    """The "Retry setup" button: the incident's given-up setup steps are tried again now."""
    ack()
    services = services_of(context)
    incident_id = int(body["actions"][0]["value"])
    with services.db.session() as session:
        outbox.retry_incident(session, services.events, incident_id=incident_id)
        number = incidents.get(session, incident_id=incident_id).number
    services.outbox.kick()
    channel = body.get("channel", {}).get("id")
    if channel and body.get("message"):
        services.slack.chat_update(
            channel=channel,
            ts=body["message"]["ts"],
            text=f"Retrying the setup of incident #{number}: its channel is on its way.",
            blocks=[],
        )


def register(app: App) -> None:
    """Register the declare listeners."""
    app.shortcut(Callback.DECLARE_SHORTCUT.value)(guarded(declare_shortcut))
    app.shortcut(Callback.DECLARE_FROM_MESSAGE.value)(guarded(declare_from_message))
    app.action(Action.HOME_DECLARE.value)(guarded(declare_from_home))
    app.view(Callback.DECLARE_MODAL.value)(guarded(submit_declare))
    app.action(Action.RETRY_SETUP.value)(guarded(retry_setup))
