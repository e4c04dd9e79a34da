"""Post-mortems on Slack: the message under the posted document, and the edit form."""

from __future__ import annotations

from datetime import date

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DatePickerElement,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
    UserSelectElement,
)
from slack_sdk.models.views import View

from blocks.action_items import due_label
from blocks.ids import Action, Callback, Field
from blocks.incident import headline
from blocks.payloads import IncidentForm, IncidentValue
from blocks.text import SECTION_MAX, escape, mention, truncate
from bot.incidents import IncidentView
from bot.postmortems import SECTION_MAX as TEXT_MAX
from storage.models_postmortems import PostMortem

LABELS = {
    Field.SUMMARY: "Summary",
    Field.IMPACT: "Impact",
    Field.ROOT_CAUSE: "Root cause",
    Field.RESOLUTION: "Resolution",
}


def state_label(pm: PostMortem) -> str:
    """Draft or Complete."""
    return "Complete" if pm.completed_at is not None else "Draft"


def document_text(view: IncidentView, pm: PostMortem) -> str:
    """The words of the message under the document."""
    title = escape(headline(view))
    return f"Post-mortem of {title}, version {pm.version} ({state_label(pm).lower()})"


def document_blocks(
    view: IncidentView, pm: PostMortem, *, owner: str | None, note: str = ""
) -> list[Block]:
    """Owner, due date and state of the post-mortem, with Edit and Mark complete buttons."""
    due = due_label(pm.due_on) if pm.due_on else "due once the incident is resolved"
    lines = [
        f":page_facing_up: *Post-mortem of {escape(headline(view))}* · version {pm.version}",
        f"Owner {mention(owner)} · {due} · *{state_label(pm)}*",
        "The document and a customer-facing draft are in the files above.",
    ]
    if note:
        lines.append(note)
    assert view.incident.id is not None
    value = IncidentValue(incident_id=view.incident.id).encode()
    buttons = [
        ButtonElement(
            text="Edit post-mortem", action_id=Action.POSTMORTEM_EDIT, value=value, style="primary"
        )
    ]
    if pm.completed_at is None:
        buttons.append(
            ButtonElement(text="Mark complete", action_id=Action.POSTMORTEM_COMPLETE, value=value)
        )
    hint = "Fetch the latest again any time with `/incident postmortem`."
    return [
        SectionBlock(text=truncate("\n".join(lines), SECTION_MAX)),
        ActionsBlock(block_id=f"postmortem_{view.incident.id}", elements=buttons),
        ContextBlock(elements=[MarkdownTextObject(text=hint)]),
    ]


def _text_input(field: Field, value: str, placeholder: str) -> InputBlock:
    return InputBlock(
        block_id=field,
        label=LABELS[field],
        optional=True,
        element=PlainTextInputElement(
            action_id=field,
            multiline=True,
            initial_value=truncate(value, TEXT_MAX) or None,
            max_length=TEXT_MAX,
            placeholder=placeholder,
        ),
    )


def postmortem_modal(
    view: IncidentView, *, prefill: dict[str, str], owner: str | None, due_on: date | None
) -> View:
    """Fill in or correct the sections; owner and due date."""
    assert view.incident.id is not None
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=f"*{truncate(escape(headline(view)), 2900)}*")),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="Leave a section empty to go back to what the bot drafts from the "
                    "incident. Saving posts a new version of the document."
                )
            ]
        ),
        _text_input(Field.SUMMARY, prefill.get("summary", ""), "What happened, in short"),
        _text_input(Field.IMPACT, prefill.get("impact", ""), "Who and what was affected"),
        _text_input(Field.ROOT_CAUSE, prefill.get("root_cause", ""), "Why it happened"),
        _text_input(Field.RESOLUTION, prefill.get("resolution", ""), "What fixed it"),
        InputBlock(
            block_id=Field.OWNER,
            label="Post-mortem owner",
            optional=True,
            element=UserSelectElement(action_id=Field.OWNER, initial_user=owner),
        ),
        InputBlock(
            block_id=Field.DUE,
            label="Due date",
            optional=True,
            element=DatePickerElement(
                action_id=Field.DUE,
                initial_date=due_on.isoformat() if due_on else None,
                placeholder="Set when resolved",
            ),
        ),
    ]
    return View(
        type="modal",
        callback_id=Callback.POSTMORTEM_MODAL,
        title="Edit post-mortem",
        submit="Save",
        close="Cancel",
        private_metadata=IncidentForm(incident_id=view.incident.id).encode(),
        blocks=blocks,
    )
