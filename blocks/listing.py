"""Lists of incidents: `/incident list` (the App Home is in blocks/insights.py)."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from blocks.incident import SEVERITY_EMOJI, headline
from blocks.text import duration, escape, mention, truncate
from bot.incidents import IncidentView

MESSAGE_ROWS = 45  # a message may hold 50 blocks


def incident_line(view: IncidentView, *, now: datetime) -> str:
    """One incident in one line: number, title, severity, status, manager, age, channel."""
    inc = view.incident
    end = inc.resolved_at or now
    where = f"<#{inc.channel_id}>" if inc.channel_id else "_channel not created_"
    return truncate(
        f"{SEVERITY_EMOJI[view.severity]} *{escape(headline(view))}*\n"
        f"{view.severity.label} · {view.status.label} · IM {mention(view.manager)} · "
        f"{duration((end - inc.declared_at).total_seconds())} · {where}",
        2900,
    )


def list_blocks(views: list[IncidentView], *, now: datetime, include_resolved: bool) -> list[Block]:
    """The `/incident list` answer."""
    what = "Incidents" if include_resolved else "Open incidents"
    if not views:
        none = "No incidents yet." if include_resolved else "No open incidents. :tada:"
        return [SectionBlock(text=MarkdownTextObject(text=none))]
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=f"*{what}* ({len(views)})"))]
    for view in views[:MESSAGE_ROWS]:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=incident_line(view, now=now))))
    hidden = len(views) - MESSAGE_ROWS
    footer = "`/incident list all` includes resolved incidents."
    if hidden > 0:
        footer = f"…and {hidden} older ones not shown. " + footer
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=footer)]))
    return blocks
