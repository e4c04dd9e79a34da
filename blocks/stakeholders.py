"""Stakeholder notices in Slack: the DM a stakeholder gets, and what responders see.

Text people typed (titles, impact, updates, messages) only ever goes into plain_text
objects, so it is shown as typed and never read as markup or mentions.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ContextBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
)

from blocks.ids import Action, Field
from blocks.payloads import IncidentValue
from blocks.text import HEADER_MAX, SECTION_MAX, escape, truncate
from bot.stakeholders.actions import CommsRow
from bot.stakeholders.wording import Facts

KEY_PREFIX = "notice_"
FIELD_MAX = 1900
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


def key_block_id(key: str) -> str:
    """The block id that carries a notice's unique key (found again in the DM history)."""
    return KEY_PREFIX + key


def key_of(message: dict[str, Any]) -> str | None:
    """The notice key of a message from `conversations.history`, if it is a notice."""
    for block in message.get("blocks") or []:
        block_id = str(block.get("block_id") or "")
        if block_id.startswith(KEY_PREFIX):
            return block_id[len(KEY_PREFIX) :]
    return None


def _plain(text: str, limit: int = FIELD_MAX) -> PlainTextObject:
    return PlainTextObject(text=truncate(text, limit), emoji=False)


def notice_text(data: Facts) -> str:
    """The notification text (what phones and screen readers show)."""
    return escape(truncate(data.headline, SECTION_MAX))


def notice_blocks(
    data: Facts,
    *,
    key: str,
    manager_id: str | None,
    group: str,
    channel_id: str | None = None,
) -> list[Block]:
    """The DM: what happened, the facts a stakeholder needs, the status page link."""
    blocks: list[Block] = [
        HeaderBlock(block_id=key_block_id(key), text=_plain(data.headline, HEADER_MAX))
    ]
    if data.message:
        blocks.append(SectionBlock(text=_plain(data.message, SECTION_MAX)))
    lead = f"<@{manager_id}>" if manager_id and _USER_ID.match(manager_id) else escape(data.manager)
    fields: list[Any] = [
        MarkdownTextObject(text=f"*Severity*\n{data.severity}"),
        MarkdownTextObject(text=f"*Status*\n{data.status}"),
        MarkdownTextObject(text=f"*Who leads*\n{lead}"),
    ]
    if data.next_update:
        fields.append(MarkdownTextObject(text=f"*Next update*\n{data.next_update}"))
    blocks.append(SectionBlock(fields=fields))
    if data.impact:
        blocks.append(
            SectionBlock(fields=[MarkdownTextObject(text="*Impact*"), _plain(data.impact)])
        )
    if data.status_page_url:
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(
                        text="Status page", url=data.status_page_url, action_id="notice_status"
                    )
                ]
            )
        )
    where = f" Responders work in <#{channel_id}>." if channel_id else ""
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"You get this as a member of *{escape(group or 'stakeholders')}*.{where}"
                )
            ]
        )
    )
    return blocks


# -- what responders see --------------------------------------------------------------------

STATE_MARKS = {
    "sent": ":white_check_mark: delivered",
    "pending": ":hourglass_flowing_sand: sending",
    "held": ":lock: waiting for the incident manager",
    "failed": ":x: *failed*",
    "retrying": ":warning: *retrying*",
    "skipped": ":heavy_minus_sign: skipped",
}
CHANNEL_LABELS = {
    "slack": "Slack DM",
    "invite": "channel invite",
    "email": "e-mail",
    "sms": "SMS",
    "webhook": "webhook",
    "mastodon": "Mastodon",
    "preview": "Mastodon preview",
    "escalation": "escalation message",
}
COMMS_MAX_LINES = 40


def preview_blocks(lines: list[str], *, what: str, private_note: bool = False) -> list[Block]:
    """`Who will be notified` for a form: one line per group, or that nobody is."""
    if lines:
        body = "\n".join(f"• {escape(line)}" for line in lines)
        text = f":mega: *{what}*\n{body}"
    else:
        text = f":mega: *{what}*\nNo stakeholder group (STAKEHOLDERS_FILE)."
    if private_note:
        text += (
            "\n_A private incident tells nobody outside its channel until its incident manager "
            "confirms a group with `/incident notify &lt;group&gt;`._"
        )
    return [ContextBlock(elements=[MarkdownTextObject(text=truncate(text, SECTION_MAX))])]


def quiet_input() -> InputBlock:
    """The update form's "Don't notify them about this update"."""
    return InputBlock(
        block_id=Field.QUIET,
        label="Stakeholders",
        optional=True,
        element=CheckboxesElement(
            action_id=Field.QUIET,
            options=[Option(value="quiet", text="Don't notify them about this update")],
        ),
    )


def email_managers_blocks(incident_id: int) -> list[Block]:
    """The checklist's step 3 as one button."""
    return [
        ActionsBlock(
            elements=[
                ButtonElement(
                    text="Email the managers",
                    action_id=Action.EMAIL_MANAGERS,
                    value=IncidentValue(incident_id=incident_id).encode(),
                    style="primary",
                )
            ]
        )
    ]


def _recipient(row: CommsRow) -> str:
    if row.channel in ("slack", "invite") and _USER_ID.match(row.recipient):
        return f"<@{row.recipient}>"
    if row.channel in ("slack", "invite") and row.recipient.startswith("S"):
        return f"user group `{escape(row.recipient)}`"  # named, never pinged
    return escape(row.recipient)


def _when(at: datetime) -> str:
    return f"<!date^{int(at.timestamp())}^{{time}}|{at.strftime('%H:%M UTC')}>"


def comms_text(number: int, rows: list[CommsRow]) -> str:
    """One line: how many notices, and how many failed."""
    failed = sum(1 for r in rows if r.state == "failed")
    retrying = sum(1 for r in rows if r.state == "retrying")
    tail = f", *{failed} failed*" if failed else ""
    tail += f", *{retrying} retrying*" if retrying else ""
    return f"Stakeholder notices of incident #{number}: {len(rows)}{tail}."


def comms_blocks(number: int, rows: list[CommsRow], *, incident_id: int) -> list[Block]:
    """Who was told what, when, over which channel and whether it arrived; failures first."""
    if not rows:
        return [
            SectionBlock(
                text=f"Nobody outside the channel has been notified about incident #{number} yet."
            )
        ]
    shown = [r for r in rows if not r.expanded]  # a user group: its members have their own
    failed = [r for r in shown if r.state in ("failed", "retrying")]
    others = [r for r in shown if r.state not in ("failed", "retrying")]
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=comms_text(number, shown)))]

    def line(row: CommsRow) -> str:
        what = escape(truncate(row.summary.replace("\n", " "), 80))
        when = _when(row.sent_at or row.created_at)
        mark = STATE_MARKS.get(row.state, row.state)
        error = ""
        if row.state in ("failed", "retrying") and row.last_error:
            error = f" — {escape(truncate(row.last_error, 120))}"
        group = f" ({escape(row.group)})" if row.group else ""
        label = "message" if row.trigger == "manual" else row.trigger.replace("_", " ")
        return (
            f"{mark} · {when} · {CHANNEL_LABELS.get(row.channel, row.channel)} to "
            f"{_recipient(row)}{group} · {label}: {what}{error}"
        )

    if failed:
        text = "*:warning: Not delivered*\n" + "\n".join(line(r) for r in failed[:15])
        blocks.append(SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION_MAX))))
    if any(r.state == "failed" for r in failed):
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(
                        text="Retry failed notices",
                        action_id=Action.RETRY_NOTICES,
                        value=IncidentValue(incident_id=incident_id).encode(),
                    )
                ]
            )
        )
    recent = others[-COMMS_MAX_LINES:]
    for start in range(0, len(recent), 10):
        chunk = "\n".join(line(r) for r in recent[start : start + 10])
        blocks.append(SectionBlock(text=MarkdownTextObject(text=truncate(chunk, SECTION_MAX))))
    if len(others) > COMMS_MAX_LINES:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=f"The {len(others) - COMMS_MAX_LINES} oldest are not shown."
                    )
                ]
            )
        )
    return blocks
