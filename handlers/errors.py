"""One error handler for the whole app.

Domain errors become a clear ephemeral message for the user who caused them. Anything
else is logged with its traceback under a short reference the user can quote to whoever
runs the bot.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_bolt import App, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.core.errors import DomainError
from bot.core.inbox import InboxSuperseded, NotKept

log = logging.getLogger("incident_bot.errors")
# A modal can open only within 3 s of the click or command (its trigger_id): after a restart
# the inbox runs the request again, too late.
TRIGGER_ERRORS = ("expired_trigger_id", "invalid_trigger_id")


def new_reference() -> str:
    """A short id to log a failure under and to give the user."""
    return uuid.uuid4().hex[:8]


def user_message(error: Exception) -> tuple[str, str | None]:
    """The text to show for `error`, and the log reference when it was unexpected."""
    if isinstance(error, DomainError):
        return f":warning: {error}", None
    if isinstance(error, NotKept):
        return (
            ":x: The incident bot could not take that in (its database did not answer), so "
            "nothing was done. Try again in a moment.",
            None,
        )
    if isinstance(error, SlackApiError) and error.response.get("error") in TRIGGER_ERRORS:
        return (
            ":hourglass: That took too long to open (the incident bot was busy or restarting), "
            "and Slack only lets a form open within 3 seconds. Nothing was changed: please "
            "do it again.",
            None,
        )
    reference = new_reference()
    if isinstance(error, SlackApiError):
        what = f"Slack answered `{error.response.get('error', error.response.status_code)}`"
    else:
        what = "something went wrong on our side"
    return (
        f":x: Sorry, that failed: {what}. Nothing was lost; try again, and if it keeps "
        f"failing give the reference `{reference}` to whoever runs the incident bot.",
        reference,
    )


def tell_user(
    text: str, *, body: dict[str, Any], respond: Respond | None, client: WebClient
) -> None:
    """Deliver an ephemeral message by the best channel the request offers."""
    user = (body.get("user") or {}).get("id") or body.get("user_id")
    channel = (body.get("channel") or {}).get("id") or body.get("channel_id")
    try:
        if respond is not None and respond.response_url:  # forms have none
            respond(text=text, response_type="ephemeral", replace_original=False)
        elif user and channel:
            client.chat_postEphemeral(channel=channel, user=user, text=text)
        elif user:
            client.chat_postMessage(channel=user, text=text)
    except Exception:
        log.exception("could not tell user %s about an error", user)


def report(
    error: Exception,
    *,
    body: dict[str, Any],
    context: BoltContext,
    client: WebClient,
) -> None:
    """Log the failure and tell the user what happened."""
    if isinstance(error, InboxSuperseded):
        log.info("stopped processing a request another replica took over: %s", error)
        return
    if isinstance(error, SlackApiError) and error.response.get("error") == "exchanged_trigger_id":
        log.info("a form was opened already for this request (run again after a restart)")
        return
    text, reference = user_message(error)
    kind = body.get("type") or ("slash_command" if "command" in body else "unknown")
    if isinstance(error, NotKept):
        log.error("could not keep a %s request: %s", kind, error)
    elif reference is None:
        log.info("domain error in %s: %s", kind, error)
    else:
        log.error("unexpected error in %s (reference %s)", kind, reference, exc_info=error)
    if kind == "event_callback":
        return  # nobody is waiting on an event; the log is the record
    tell_user(text, body=body, respond=context.respond, client=client)


def handle_error(
    error: Exception,
    body: dict[str, Any],
    context: BoltContext,
    client: WebClient,
) -> None:
    """Bolt's app-wide error handler (errors raised before a listener acknowledged)."""
    report(error, body=body, context=context, client=client)


def register(app: App) -> None:
    """Install the app-wide error handler."""
    app.error(handle_error)
