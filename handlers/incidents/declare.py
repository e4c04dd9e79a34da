"""Declaring: the command, the shortcuts and the Home button open one modal; submit creates."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from blocks.ids import Action, Callback, Field
from blocks.modals import declare_modal
from bot import incidents
from bot.core.errors import DomainError, InvalidInput
from bot.core.inbox import InboxSuperseded
from bot.slack.operations import declare_incident
from bot.slack.surfaces import IncidentSlack
from handlers.commands import route
from handlers.context import CommandRequest, ack_then, resumed, services_of
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


def declare_from_message(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    """Message shortcut: the summary starts as the message, with a link to it."""
    ack()
    trigger_id = body["trigger_id"]
    channel = body["channel"]["id"]
    message = body.get("message", {})
    ts = message.get("ts", "")
    permalink = ""
    try:
        permalink = client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"]
    except SlackApiError as exc:
        log.warning("no permalink for %s/%s: %s", channel, ts, exc.response.get("error"))
    text = message.get("text", "")
    summary = f"{text}\n\nFrom: {permalink}" if permalink else text
    origin = {"channel": channel, "ts": ts, "permalink": permalink}
    client.views_open(
        trigger_id=trigger_id,
        view=declare_modal(user_id=body["user"]["id"], summary=summary, origin=origin),
    )


def submit_declare(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext
) -> None:
    """Validate, record the incident, close the form; then build its channel and card.

    The incident is committed before Slack gets its answer: once the form has closed, the
    incident exists whatever becomes of the bot. One incident per form is guaranteed by the
    database (the form's view id is the incident's unique declare_key). Its channel, card and
    announcement are built after the answer; a bot stopped in the middle of them resumes
    them from the inbox (web/intake.py). If recording fails, the form stays open with the
    reason, and what the declarer typed is still in it.
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
    try:
        incident, event = declare_incident(services, **fields)
    except InboxSuperseded:
        raise  # another replica processes this submission
    except Exception as exc:
        reference = new_reference()
        log.error("could not record a declared incident (reference %s)", reference, exc_info=exc)
        ack(
            response_action="errors",
            errors={
                Field.TITLE.value: (
                    f"The incident could not be recorded, so nothing was created (reference "
                    f"{reference}). Submit again in a moment."
                )
            },
        )
        return
    surfaces = services.surfaces
    assert incident.id is not None and surfaces is not None
    incident_id = incident.id
    if event is not None:
        ack_then(ack, lambda: services.publish(event))  # the form's payload is not kept
    elif resumed(context):  # the bot stopped after recording it: finish its setup
        log.info("resuming the setup of incident #%s after a restart", incident.number)
        ack_then(ack, lambda: _resume_setup(surfaces, incident_id))
    else:
        ack()
        log.info(
            "declare form %s submitted again; incident #%s exists", view["id"], incident.number
        )


def _resume_setup(surfaces: IncidentSlack, incident_id: int) -> None:
    with contextlib.suppress(SlackApiError, DomainError):  # recorded, and told to the declarer
        surfaces.setup(incident_id, take_over=True)


def resumes_after_writes(body: dict[str, Any]) -> bool:
    """The declare form is run again after a crash that followed its commit (see handlers)."""
    view = body.get("view") if body.get("type") == "view_submission" else None
    return isinstance(view, dict) and view.get("callback_id") == Callback.DECLARE_MODAL.value


def retry_setup(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    """The "Retry setup" button finishes an incident whose setup failed."""
    ack()
    services = services_of(context)
    assert services.surfaces is not None
    incident_id = int(body["actions"][0]["value"])
    try:
        view = services.surfaces.setup(incident_id)
    except SlackApiError:
        return  # the failure was recorded and the declarer told again, with the button
    channel = body.get("channel", {}).get("id")
    if channel and body.get("message"):
        services.slack.chat_update(
            channel=channel,
            ts=body["message"]["ts"],
            text=f"Incident #{view.incident.number} is set up: <#{view.incident.channel_id}>.",
            blocks=[],
        )


def register(app: App) -> None:
    """Register the declare listeners."""
    app.shortcut(Callback.DECLARE_SHORTCUT.value)(guarded(declare_shortcut))
    app.shortcut(Callback.DECLARE_FROM_MESSAGE.value)(guarded(declare_from_message))
    app.action(Action.HOME_DECLARE.value)(guarded(declare_from_home))
    app.view(Callback.DECLARE_MODAL.value)(guarded(submit_declare))
    app.action(Action.RETRY_SETUP.value)(guarded(retry_setup))
