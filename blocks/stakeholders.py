"""Stakeholder notices in Slack: the DM a stakeholder gets, and what responders see.

Text people typed (titles, impact, updates, messages) only ever goes into plain_text
objects, so it is shown as typed and never read as markup or mentions.
"""

from __future__ import annotations

import re
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from blocks.text import HEADER_MAX, SECTION_MAX, truncate
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


def escape(text: str) -> str:
    """Slack's three control characters as entities, so `text` is never markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


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
    lead = f"<@{manager_id}>" if manager_id and _USER_ID.match(manager_id) else data.manager
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
