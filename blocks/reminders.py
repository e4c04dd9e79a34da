"""Reminder messages: the status-update reminder, the no-manager nudge, the snoozed form."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from blocks.ids import Action
from blocks.payloads import IncidentValue, ReminderKeyBlockId, SnoozeValue
from blocks.text import SECTION_MAX, duration, escape, slack_date, truncate
from bot.reminders.claims import Outgoing
from bot.reminders.policy import SNOOZE_CHOICES, Kind

KEY_PREFIX = ReminderKeyBlockId.PREFIX
SNOOZE_ACTION = re.compile(rf"^{Action.SNOOZE_REMINDER.value}_(\d+)$")


def key_block_id(key: str) -> str:
    """The block id that carries a reminder's unique key (found again in the history)."""
    return ReminderKeyBlockId(key=key).encode()


def key_of(message: dict[str, Any]) -> str | None:
    """The reminder key of a message from `conversations.history`, if it is a reminder."""
    return ReminderKeyBlockId.find(message)


def snooze_action_id(minutes: int) -> str:
    """`reminder_snooze_30`"""
    return f"{Action.SNOOZE_REMINDER.value}_{minutes}"


def snooze_label(minutes: int) -> str:
    """`15 min`, `1 hour`"""
    return f"{minutes // 60} hour" if minutes % 60 == 0 else f"{minutes} min"


def _who(out: Outgoing) -> str:
    return f"<@{out.manager}>" if out.manager else "<!channel>"


def _title(out: Outgoing) -> str:
    return f"*#{out.number} {escape(out.title)}* ({out.severity.label})"


def reminder_text(out: Outgoing, *, now: datetime) -> str:
    """The reminder's words (also its notification text)."""
    quiet_for = duration((now - out.since).total_seconds())
    if out.kind is Kind.NO_MANAGER:
        return (
            f":busts_in_silhouette: {_who(out)} {_title(out)} has had no incident manager for "
            f"*{quiet_for}*. Someone take the role: `/incident manager @you`."
        )
    return (
        f":alarm_clock: {_who(out)} no status update on {_title(out)} for *{quiet_for}*. "
        "Post an update so everyone knows where things stand."
    )


def _actions(out: Outgoing, *, snooze: bool) -> ActionsBlock:
    value = IncidentValue(incident_id=out.incident_id).encode()
    if out.kind is Kind.NO_MANAGER:
        elements: list[Any] = [
            ButtonElement(
                text="Assign incident manager",
                action_id=Action.ASSIGN_ROLE,
                value=value,
                style="primary",
            )
        ]
    else:
        elements = [
            ButtonElement(
                text="Post update", action_id=Action.POST_UPDATE, value=value, style="primary"
            )
        ]
        if snooze:
            elements += [
                ButtonElement(
                    text=f"Snooze {snooze_label(m)}",
                    action_id=snooze_action_id(m),
                    value=SnoozeValue(incident_id=out.incident_id, minutes=m).encode(),
                )
                for m in SNOOZE_CHOICES
            ]
    return ActionsBlock(block_id=f"{KEY_PREFIX}actions_{out.incident_id}", elements=elements)


def reminder_blocks(out: Outgoing, *, now: datetime, nudge_max: int = 0) -> list[Block]:
    """The reminder as posted in the incident's channel."""
    blocks: list[Block] = [
        SectionBlock(
            block_id=key_block_id(out.key),
            text=truncate(reminder_text(out, now=now), SECTION_MAX),
        ),
        _actions(out, snooze=True),
    ]
    if out.kind is Kind.NO_MANAGER and nudge_max:
        note = f"Nudge {out.nudge_number} of {nudge_max}."
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=note)]))
    return blocks


def snoozed_blocks(
    message: dict[str, Any], *, incident_id: int, user: str, until: datetime
) -> list[dict[str, Any]]:
    """The reminder message after a snooze: same words, no snooze buttons, who and until when."""
    kept = [
        b
        for b in message.get("blocks") or []
        if b.get("type") == "section" and str(b.get("block_id", "")).startswith(KEY_PREFIX)
    ]
    post = ButtonElement(
        text="Post update",
        action_id=Action.POST_UPDATE,
        value=IncidentValue(incident_id=incident_id).encode(),
        style="primary",
    )
    actions = ActionsBlock(block_id=f"{KEY_PREFIX}actions_{incident_id}", elements=[post])
    note = f":zzz: <@{user}> snoozed the next reminder until {slack_date(until, '{time}')}."
    context = ContextBlock(elements=[MarkdownTextObject(text=note)])
    return [*kept, actions.to_dict(), context.to_dict()]
