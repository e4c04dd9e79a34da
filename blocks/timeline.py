"""The timeline as Slack shows it: pages within Block Kit's limits, and the incident picker.

A message holds at most 50 blocks and a section at most 3,000 characters. A page is one
header, one context line, one section per entry (each cut to fit) and one row of buttons, so
any timeline renders: long ones page with Earlier/Later, and the whole one downloads as a file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from blocks.ids import Action, Callback, Field
from blocks.incident import headline
from blocks.payloads import IncidentValue, PageValue, SharedMessage
from blocks.text import HEADER_MAX, SECTION_MAX, escape, link, slack_date, truncate
from bot.incidents import IncidentView
from bot.timeline import Kind
from storage.models_timeline import TimelineEntry

PER_PAGE = 30  # 30 entry sections + header, context and buttons stay well under 50 blocks
ENTRY_TEXT_MAX = 700
OPTION_TEXT_MAX = 75
OPTIONS_MAX = 100
KIND_ICON = {Kind.MESSAGE: ":speech_balloon:", Kind.NOTE: ":pencil:", Kind.EVENT: ":gear:"}
TIME_FORMAT = "{date_short} {time_secs}"


def page_count(total: int, per_page: int = PER_PAGE) -> int:
    """How many pages a timeline of `total` entries has (at least one)."""
    return max(1, math.ceil(total / per_page))


def clamp_page(page: int, total: int, per_page: int = PER_PAGE) -> int:
    """A page number within the timeline (0-based)."""
    return min(max(page, 0), page_count(total, per_page) - 1)


def _who(entry: TimelineEntry) -> str:
    if entry.author and entry.author[:1] in ("U", "W"):
        return f"<@{entry.author}>"
    return escape(entry.author_name or entry.author or "someone")


def entry_line(entry: TimelineEntry) -> str:
    """One entry as mrkdwn: time, who, what, files and a link to the message."""
    when = slack_date(entry.occurred_at, TIME_FORMAT)
    icon = KIND_ICON.get(Kind(entry.kind), ":small_blue_diamond:")
    text = escape(truncate(entry.text or "(no text)", ENTRY_TEXT_MAX))
    if entry.deleted_at is not None:
        text = f"~{text}~ _(message deleted)_" if entry.text else "_(message deleted)_"
    if entry.kind == Kind.EVENT.value:
        line = f"*{when}* {icon} {_who(entry)} {text}"
    else:
        line = f"*{when}* {icon} {_who(entry)}: {text}"
    if entry.files:
        names = ", ".join(escape(name) for name in entry.files.splitlines())
        line += f"\n:paperclip: {truncate(names, 500)}"
    if entry.permalink:
        line += f"  {link(entry.permalink, 'view message')}"
    return truncate(line, SECTION_MAX)


def timeline_text(view: IncidentView, total: int) -> str:
    """Fallback text of a timeline page (mrkdwn, so escaped)."""
    return f"Timeline of {escape(headline(view))}: {total} entries"


def timeline_blocks(
    view: IncidentView,
    entries: Sequence[TimelineEntry],
    *,
    total: int,
    page: int,
    emojis: Sequence[str] = ("pushpin",),
    per_page: int = PER_PAGE,
) -> list[Block]:
    """Page `page` (0-based) of the timeline, `entries` being that page's entries."""
    incident_id = view.incident.id
    assert incident_id is not None
    pages = page_count(total, per_page)
    blocks: list[Block] = [
        HeaderBlock(text=truncate(f"Timeline of {headline(view)}", HEADER_MAX)),
    ]
    if total == 0:
        hint = " or ".join(f":{name}:" for name in emojis)
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=(
                        f"Nothing on the timeline yet. React with {hint} to a message in this "
                        "channel, or add a note with `/incident note &lt;text&gt;`."
                    )
                )
            )
        )
        return blocks
    first = page * per_page + 1
    last = page * per_page + len(entries)
    context = f"Entries {first} to {last} of {total} · page {page + 1} of {pages} · your local time"
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=context)]))
    for entry in entries[:per_page]:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=entry_line(entry))))
    buttons: list[ButtonElement] = []
    if page > 0:
        buttons.append(
            ButtonElement(
                text="← Earlier",
                action_id=Action.TIMELINE_EARLIER,
                value=PageValue(incident_id=incident_id, page=page - 1).encode(),
            )
        )
    if page < pages - 1:
        buttons.append(
            ButtonElement(
                text="Later →",
                action_id=Action.TIMELINE_LATER,
                value=PageValue(incident_id=incident_id, page=page + 1).encode(),
            )
        )
    buttons.append(
        ButtonElement(
            text="Download as Markdown",
            action_id=Action.TIMELINE_DOWNLOAD,
            value=IncidentValue(incident_id=incident_id).encode(),
        )
    )
    blocks.append(ActionsBlock(block_id=f"timeline_{incident_id}", elements=buttons))
    return blocks


def incident_option(view: IncidentView) -> Option:
    """An incident in a select: `#12 Database is down · SEV2 · Investigating`."""
    label = f"{headline(view)} · {view.severity.label} · {view.status.label}"
    return Option(value=str(view.incident.id), text=truncate(label, OPTION_TEXT_MAX))


def pick_incident_modal(
    views: Sequence[IncidentView], *, shared: SharedMessage, preview: str
) -> View:
    """Which incident's timeline gets the message (the message shortcut, outside incidents)."""
    options = [incident_option(view) for view in views[:OPTIONS_MAX]]
    select = StaticSelectElement(
        action_id=Field.INCIDENT,
        placeholder="Choose an incident",
        options=options,
        initial_option=options[0] if len(options) == 1 else None,
    )
    quoted = "\n".join("> " + line for line in escape(truncate(preview, 500)).splitlines()) or ">"
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=truncate(quoted, SECTION_MAX))),
        InputBlock(block_id=Field.INCIDENT, label="Incident", element=select),
    ]
    return View(
        type="modal",
        callback_id=Callback.TIMELINE_PICK_MODAL,
        title="Add to timeline",
        submit="Add",
        close="Cancel",
        private_metadata=shared.encode(),
        blocks=blocks,
    )
