"""Mastodon approvals in Slack: the preview's Post, Edit and Skip, and the Edit form.

Thin: the gate has checked Permission.SOCIAL_POST (the incident manager by default) against
the incident the button names; `bot.stakeholders.social.decide` changes the post under a
row lock (a second click finds it decided and changes nothing), and the notice loop posts
it and updates the preview in place (bot.slack.social).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from blocks import social as render
from blocks.ids import Action, Callback, Field
from blocks.payloads import SocialForm, SocialValue
from bot.core.errors import DomainError, InvalidInput
from bot.permissions.policy import Permission
from bot.slack.services import Services
from bot.stakeholders import social
from handlers.access import on_action, on_view
from handlers.context import scope_of, services_of
from handlers.forms import state_value
from storage.types import utcnow

log = logging.getLogger(__name__)


def _wake(services: Services) -> None:
    if services.notices is not None:
        services.notices.wake()


def _tell(client: WebClient, body: dict[str, Any], text: str) -> None:
    channel = (body.get("channel") or {}).get("id")
    if channel:
        client.chat_postEphemeral(channel=channel, user=body["user"]["id"], text=text)


def _decide(
    services: Services,
    value: SocialValue | SocialForm,
    user: str,
    *,
    approve: bool,
    text: str | None = None,
) -> tuple[social.Post, bool]:
    with services.db.session() as session:
        found = social.decide(
            session,
            post_id=value.post_id,
            incident_id=value.incident_id,
            actor=user,
            approve=approve,
            text=text,
            now=utcnow(),
        )
    _wake(services)
    return found


def _already(post: social.Post) -> str:
    return f"That Mastodon post was decided already: {render.outcome(post)}. Nothing was changed."


def _decide_clicked(
    body: dict[str, Any], client: WebClient, context: BoltContext, *, approve: bool
) -> None:
    """Post or Skip, clicked: decide, or say why not (already decided, refused)."""
    scope = scope_of(context)
    try:
        post, changed = _decide(
            services_of(context), scope.expect(SocialValue), scope.user_id, approve=approve
        )
    except DomainError as exc:
        _tell(client, body, str(exc))
        return
    if not changed:
        _tell(client, body, _already(post))


def post_button(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Post: approve the text as it is."""
    ack()
    _decide_clicked(body, client, context, approve=True)


def skip_button(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Skip: record that this update is not posted."""
    ack()
    _decide_clicked(body, client, context, approve=False)


def edit_button(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Edit: the form with the text, which posts on submit."""
    ack()
    value = scope_of(context).expect(SocialValue)
    with services_of(context).db.read() as session:
        post = social.post_of(session, post_id=value.post_id)
    if post.state != "held":
        _tell(client, body, _already(post))
        return
    client.views_open(trigger_id=body["trigger_id"], view=render.edit_modal(post))


def submit_edit(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    """The Edit form: check the text (Mastodon's 500 characters), then post it."""
    scope = scope_of(context)
    text = str(state_value(view, Field.TEXT) or "")
    try:
        social.clean(text)
        post, changed = _decide(
            services_of(context), scope.expect(SocialForm), scope.user_id, approve=True, text=text
        )
    except InvalidInput as exc:
        ack(response_action="errors", errors={Field.TEXT.value: str(exc)})
        return
    except DomainError as exc:
        ack(response_action="errors", errors={Field.TEXT.value: str(exc)})
        return
    if not changed:
        ack(response_action="errors", errors={Field.TEXT.value: _already(post)})
        return
    ack()


def register(app: App) -> None:
    """Register the preview's buttons and the Edit form."""
    need = Permission.SOCIAL_POST
    on_action(app, Action.SOCIAL_POST, post_button, need=need)
    on_action(app, Action.SOCIAL_EDIT, edit_button, need=need)
    on_action(app, Action.SOCIAL_SKIP, skip_button, need=need)
    on_view(app, Callback.SOCIAL_MODAL, submit_edit, need=need)
