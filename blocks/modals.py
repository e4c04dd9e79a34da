"""Modals: declare, update, resolve, assign a role."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from blocks.ids import Callback, Field
from blocks.incident import headline, severity_options
from blocks.payloads import DeclareOrigin, IncidentForm
from blocks.text import escape, truncate
from bot.core.vocabulary import Role, Status
from bot.incidents import MESSAGE_MAX, TITLE_MAX, IncidentView


def _about(view: IncidentView) -> str:
    assert view.incident.id is not None
    return IncidentForm(incident_id=view.incident.id).encode()


def declare_modal(
    *,
    user_id: str,
    title: str = "",
    summary: str = "",
    origin: DeclareOrigin | None = None,
    extra: Sequence[Block] = (),
    severity: str | None = None,
) -> View:
    """The declare form. `origin` is the message it is declared from, if any."""
    severities = severity_options(with_descriptions=True)
    preset = next((option for option in severities if option.value == severity), None)
    blocks: list[Block] = [
        InputBlock(
            block_id=Field.TITLE,
            label="Title",
            element=PlainTextInputElement(
                action_id=Field.TITLE,
                initial_value=truncate(title.strip(), TITLE_MAX) or None,
                max_length=TITLE_MAX,
                placeholder="What is broken, in a few words",
            ),
        ),
        InputBlock(
            block_id=Field.SEVERITY,
            label="Severity",
            element=StaticSelectElement(
                action_id=Field.SEVERITY,
                placeholder="Choose a severity",
                options=severities,
                initial_option=preset,
            ),
        ),
        InputBlock(
            block_id=Field.SUMMARY,
            label="Summary",
            optional=True,
            element=PlainTextInputElement(
                action_id=Field.SUMMARY,
                multiline=True,
                initial_value=truncate(summary, MESSAGE_MAX) or None,
                max_length=MESSAGE_MAX,
                placeholder="What is known so far",
            ),
        ),
        InputBlock(
            block_id=Field.IMPACT,
            label="Impact / affected services",
            optional=True,
            element=PlainTextInputElement(
                action_id=Field.IMPACT, multiline=True, max_length=MESSAGE_MAX
            ),
        ),
        InputBlock(
            block_id=Field.MANAGER,
            label="Incident manager",
            element=UserSelectElement(action_id=Field.MANAGER, initial_user=user_id),
        ),
        InputBlock(
            block_id=Field.PRIVATE,
            label="Visibility",
            optional=True,
            element=CheckboxesElement(
                action_id=Field.PRIVATE,
                options=[
                    Option(
                        value="private",
                        text="Private incident",
                        description="Private channel, not announced",
                    )
                ],
            ),
        ),
        InputBlock(
            block_id=Field.DRILL,
            label="Drill",
            optional=True,
            element=CheckboxesElement(
                action_id=Field.DRILL,
                options=[
                    Option(
                        value="drill",
                        text="This is a drill",
                        description="Practice: nothing public, no stakeholders, no paging",
                    )
                ],
            ),
        ),
        *extra,  # e.g. the status page fields (blocks.statuspage)
    ]
    return View(
        type="modal",
        callback_id=Callback.DECLARE_MODAL,
        title="Declare an incident",
        submit="Declare",
        close="Cancel",
        private_metadata=(origin or DeclareOrigin()).encode(),
        blocks=blocks,
    )


def update_modal(view: IncidentView, *, message: str = "", extra: Sequence[Block] = ()) -> View:
    """Post an update, optionally moving the incident to a new status."""
    statuses = [Option(value=s.value, text=s.label) for s in Status if s is not Status.RESOLVED]
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=f"*{truncate(escape(headline(view)), 2900)}*")),
        InputBlock(
            block_id=Field.MESSAGE,
            label="What is new?",
            element=PlainTextInputElement(
                action_id=Field.MESSAGE,
                multiline=True,
                initial_value=truncate(message, MESSAGE_MAX) or None,
                max_length=MESSAGE_MAX,
            ),
        ),
        InputBlock(
            block_id=Field.STATUS,
            label="New status",
            optional=True,
            element=StaticSelectElement(
                action_id=Field.STATUS, placeholder=f"Keep: {view.status.label}", options=statuses
            ),
        ),
        *extra,  # e.g. the status page fields (blocks.statuspage)
    ]
    return View(
        type="modal",
        callback_id=Callback.UPDATE_MODAL,
        title="Post an update",
        submit="Post",
        close="Cancel",
        private_metadata=_about(view),
        blocks=blocks,
    )


def resolve_modal(view: IncidentView, *, extra: Sequence[Block] = ()) -> View:
    """Ask for a short resolution summary."""
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=f"*{truncate(escape(headline(view)), 2900)}*")),
        InputBlock(
            block_id=Field.RESOLUTION,
            label="How was it resolved?",
            element=PlainTextInputElement(
                action_id=Field.RESOLUTION, multiline=True, max_length=MESSAGE_MAX
            ),
        ),
        ContextBlock(
            elements=[MarkdownTextObject(text="This goes on the card and into the post-mortem.")]
        ),
        *extra,  # e.g. the final status page message (blocks.statuspage)
    ]
    return View(
        type="modal",
        callback_id=Callback.RESOLVE_MODAL,
        title="Resolve incident",
        submit="Resolve",
        close="Cancel",
        private_metadata=_about(view),
        blocks=blocks,
    )


def role_modal(view: IncidentView) -> View:
    """Give a role to someone."""
    roles = [Option(value=r.value, text=r.label) for r in Role]
    blocks: list[Block] = [
        InputBlock(
            block_id=Field.ROLE,
            label="Role",
            element=StaticSelectElement(
                action_id=Field.ROLE, options=roles, initial_option=roles[0]
            ),
        ),
        InputBlock(
            block_id=Field.USER,
            label="Person",
            element=UserSelectElement(action_id=Field.USER),
        ),
    ]
    return View(
        type="modal",
        callback_id=Callback.ROLE_MODAL,
        title="Assign a role",
        submit="Assign",
        close="Cancel",
        private_metadata=_about(view),
        blocks=blocks,
    )
