"""The admins' view of the outbox: `/incident admin deliveries`, with a Retry button each."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from blocks.ids import Action
from blocks.payloads import DeliveryValue
from blocks.text import SECTION_MAX, duration, slack_date, truncate
from bot.core.slack_text import escape
from bot.outbox import Counts, Undelivered

ROWS = 40  # a message holds 50 blocks


def _incident(item: Undelivered) -> str:
    if item.private:
        return f"#{item.number} (private incident)"
    return f"#{item.number} {escape(item.title)}"


def delivery_line(item: Undelivered, *, now: datetime) -> str:
    """One delivery: incident, what it does, its state and its last error."""
    what = f"*{_incident(item)}* · `{item.subscriber}` of `{item.event_kind}`"
    age = duration((now - item.created_at).total_seconds())
    tries = f"{item.attempts} attempt{'s' if item.attempts != 1 else ''}"
    if item.failed:
        state = f":x: Given up after {tries} (queued {age} ago)"
    elif item.leased:
        state = f":arrows_counterclockwise: Being delivered now ({tries} so far, queued {age} ago)"
    else:
        assert item.due_at is not None
        when = "now" if item.due_at <= now else slack_date(item.due_at, "{time_secs}")
        state = f":hourglass: Pending, next try {when} ({tries} so far, queued {age} ago)"
    error = f"\nLast error: {escape(item.last_error)}" if item.last_error else ""
    return truncate(f"{what}\n{state}{error}", SECTION_MAX)


def deliveries_text(counts: Counts) -> str:
    """Plain-text fallback of the list."""
    return f"Deliveries: {counts.failed} given up, {counts.pending} pending."


def deliveries_blocks(
    items: list[Undelivered], counts: Counts, *, now: datetime, note: str = ""
) -> list[Block]:
    """Given-up deliveries first, then pending ones, each with its Retry button."""
    blocks: list[Block] = [
        HeaderBlock(text="Deliveries"),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"{counts.failed} given up · {counts.pending} pending "
                    f"({counts.overdue} waiting for more than a few minutes)"
                )
            ]
        ),
    ]
    if note:
        blocks.append(SectionBlock(text=truncate(note, SECTION_MAX)))
    if not items:
        blocks.append(SectionBlock(text="Nothing is waiting: every side effect was delivered."))
        return blocks
    for item in items[:ROWS]:
        blocks.append(
            SectionBlock(
                text=delivery_line(item, now=now),
                accessory=ButtonElement(
                    text="Retry now" if not item.failed else "Retry",
                    action_id=Action.RETRY_DELIVERY,
                    value=DeliveryValue(delivery_id=item.row_id).encode(),
                ),
            )
        )
    shown = min(len(items), ROWS)
    total = counts.failed + counts.pending
    if total > shown:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=f"Showing {shown} of {total}.")])
        )
    return blocks
