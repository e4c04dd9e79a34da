"""Action items on Slack: lists, notices, the owner's messages, the form, owners' reminders."""

from __future__ import annotations

from datetime import date
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DatePickerElement,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from blocks.ids import Action, Callback, Field
from blocks.payloads import (
    ActionItemForm,
    FollowUpKeyBlockId,
    IncidentValue,
    ItemValue,
    ListBlockId,
)
from blocks.text import HEADER_MAX, SECTION_MAX, escape, link, truncate
from bot.action_items import TEXT_MAX, State
from bot.core.vocabulary import Status
from bot.followups.claims import Outgoing
from bot.followups.policy import Kind
from bot.incidents import IncidentView
from storage.models import Incident
from storage.models_postmortems import ActionItem

KEY_PREFIX = FollowUpKeyBlockId.PREFIX
LIST_MAX = 40  # items shown in one list (Slack allows 50 blocks per message)
OPTIONS_MAX = 100


def due_label(due_on: date | None, *, today: date | None = None) -> str:
    """`due Fri 14 Mar 2025`, with `(overdue)` once it has passed."""
    if due_on is None:
        return "no due date"
    text = f"due {due_on:%a} {due_on.day} {due_on:%b %Y}"
    if today is not None and due_on < today:
        text += " *(overdue)*"
    return text


def item_line(
    item: ActionItem, *, today: date | None = None, incident: Incident | None = None
) -> str:
    """One action item in mrkdwn: id, text, owner, due date, state."""
    done = item.state == State.DONE.value
    mark = ":white_check_mark:" if done else ":white_square:"
    title = escape(incident.title) if incident is not None else ""
    where = f" · incident #{incident.number} {title}" if incident is not None else ""
    state = "done" if done else "open"
    text = escape(item.text) if not done else f"~{escape(item.text)}~"
    due = due_label(item.due_on, today=None if done else today)
    return f"{mark} *AI-{item.id}* {text}\n<@{item.owner}> · {due} · {state}{where}"


def _done_button(item_id: int | None) -> ButtonElement:
    assert item_id is not None
    return ButtonElement(
        text="Mark done",
        action_id=Action.ACTION_ITEM_DONE,
        value=ItemValue(item_id=item_id).encode(),
        style="primary",
    )


def list_blocks(
    rows: list[tuple[ActionItem, Incident | None]],
    *,
    heading: str,
    empty: str,
    today: date,
    incident_id: int | None,
) -> list[Block]:
    """A list of action items, each open one with a Mark done button: one incident's, or
    (`incident_id` None) the reader's own."""
    blocks: list[Block] = [HeaderBlock(text=truncate(heading, HEADER_MAX))]
    if not rows:
        blocks.append(SectionBlock(text=escape(empty)))
        return blocks
    for item, incident in rows[:LIST_MAX]:
        assert item.id is not None
        blocks.append(
            SectionBlock(
                block_id=ListBlockId(incident_id=incident_id, item_id=item.id).encode(),
                text=truncate(item_line(item, today=today, incident=incident), SECTION_MAX),
                accessory=_done_button(item.id) if item.state == State.OPEN.value else None,
            )
        )
    if len(rows) > LIST_MAX:
        more = f"And {len(rows) - LIST_MAX} more not shown."
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=more)]))
    return blocks


def list_text(heading: str, count: int) -> str:
    """The list's notification text."""
    return f"{escape(heading)}: {count} action item{'s' if count != 1 else ''}."


def created_text(item: ActionItem, incident: Incident, *, actor: str) -> str:
    """The notice in the incident's channel."""
    due = due_label(item.due_on)
    return (
        f":ballot_box_with_check: <@{actor}> added action item *AI-{item.id}* to incident "
        f"#{incident.number}: {escape(item.text)}\nOwner <@{item.owner}> · {due}"
    )


def owner_blocks(item: ActionItem, incident: Incident, *, actor: str) -> list[Block]:
    """The direct message a new owner gets."""
    where = f" (<#{incident.channel_id}>)" if incident.channel_id else ""
    source = f"\n{link(item.permalink, 'The message it came from')}" if item.permalink else ""
    text = (
        f":ballot_box_with_check: <@{actor}> gave you action item *AI-{item.id}* from incident "
        f"*#{incident.number} {escape(incident.title)}*{where}, {due_label(item.due_on)}:\n"
        f">{escape(item.text)}{source}"
    )
    return [
        SectionBlock(text=truncate(text, SECTION_MAX)),
        ActionsBlock(block_id=f"action_item_dm_{item.id}", elements=[_done_button(item.id)]),
    ]


def owner_text(item: ActionItem, incident: Incident) -> str:
    """The new owner's notification text."""
    text = escape(item.text)
    return f"You own action item AI-{item.id} from incident #{incident.number}: {text}"


def action_item_modal(
    *,
    text: str,
    owner: str,
    choices: list[IncidentView] | None = None,
    incident: Incident | None = None,
    permalink: str | None = None,
    metadata: ActionItemForm | None = None,
) -> View:
    """Create an action item; with `choices`, also ask which incident it belongs to."""
    blocks: list[Block] = []
    if incident is not None:
        blocks.append(
            SectionBlock(
                text=truncate(f"*Incident #{incident.number} {escape(incident.title)}*", 2900)
            )
        )
    if choices:
        options = [
            Option(
                value=str(v.incident.id),
                text=truncate(f"#{v.incident.number} {v.incident.title}", 75),
            )
            for v in choices[:OPTIONS_MAX]
        ]
        blocks.append(
            InputBlock(
                block_id=Field.INCIDENT,
                label="Incident",
                element=StaticSelectElement(
                    action_id=Field.INCIDENT, placeholder="Choose an incident", options=options
                ),
            )
        )
    blocks += [
        InputBlock(
            block_id=Field.TEXT,
            label="What needs doing?",
            element=PlainTextInputElement(
                action_id=Field.TEXT,
                multiline=True,
                initial_value=truncate(text.strip(), TEXT_MAX) or None,
                max_length=TEXT_MAX,
            ),
        ),
        InputBlock(
            block_id=Field.OWNER,
            label="Owner",
            element=UserSelectElement(action_id=Field.OWNER, initial_user=owner),
        ),
        InputBlock(
            block_id=Field.DUE,
            label="Due date",
            optional=True,
            element=DatePickerElement(action_id=Field.DUE, placeholder="No due date"),
        ),
    ]
    if permalink:
        source = f"From {link(permalink, 'this message')}."
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=source)]))
    return View(
        type="modal",
        callback_id=Callback.ACTION_ITEM_MODAL,
        title="Create action item",
        submit="Create",
        close="Cancel",
        private_metadata=(metadata or ActionItemForm()).encode(),
        blocks=blocks,
    )


def incident_choices(views: list[IncidentView]) -> list[IncidentView]:
    """Incidents to offer in the form: open ones first, newest first."""
    return sorted(views, key=lambda v: (v.status is Status.RESOLVED, -v.incident.number))


# -- owners' reminders ---------------------------------------------------------------------


def key_of(message: dict[str, Any]) -> str | None:
    """The follow-up reminder key of a message from `conversations.history`, if any."""
    return FollowUpKeyBlockId.find(message)


def _when(out: Outgoing) -> str:
    if out.days_late <= 0:
        return "is due today"
    return f"is overdue by {out.days_late} day{'s' if out.days_late != 1 else ''}"


def followup_text(out: Outgoing) -> str:
    """The reminder's words (also its notification text)."""
    s = out.subject
    incident = f"*#{s.number} {escape(s.title)}*"
    if s.kind is Kind.ACTION_ITEM:
        return (
            f":alarm_clock: Your action item *AI-{s.subject_id}* from incident {incident} "
            f"{_when(out)}:\n>{escape(s.text)}"
        )
    return (
        f":alarm_clock: The post-mortem of incident {incident}, which you own, {_when(out)}. "
        "Fill in what is missing, then mark it complete."
    )


def followup_blocks(out: Outgoing) -> list[Block]:
    """The reminder as sent to its owner, its key in the first block's id."""
    s = out.subject
    if s.kind is Kind.ACTION_ITEM:
        elements: list[Any] = [_done_button(s.subject_id)]
    else:
        value = IncidentValue(incident_id=s.incident_id).encode()
        elements = [
            ButtonElement(text="Edit post-mortem", action_id=Action.POSTMORTEM_EDIT, value=value),
            ButtonElement(
                text="Mark complete",
                action_id=Action.POSTMORTEM_COMPLETE,
                value=value,
                style="primary",
            ),
        ]
    blocks: list[Block] = [
        SectionBlock(
            block_id=FollowUpKeyBlockId(key=out.key).encode(),
            text=truncate(followup_text(out), SECTION_MAX),
        ),
        ActionsBlock(block_id=f"{KEY_PREFIX}actions_{out.reminder_id}", elements=elements),
    ]
    if s.channel_id:
        where = f"Incident channel: <#{s.channel_id}>"
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=where)]))
    return blocks


def marked_done(message: dict[str, Any], *, user: str, label: str) -> list[dict[str, Any]]:
    """A direct message or reminder once done: its words, no buttons, who did it."""
    kept = [b for b in message.get("blocks") or [] if b.get("type") == "section"]
    note = ContextBlock(
        elements=[MarkdownTextObject(text=f":white_check_mark: {label} (<@{user}>).")]
    )
    return [*kept, note.to_dict()]
