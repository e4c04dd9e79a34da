"""Status page pieces of Slack forms and messages: fields, the status page and maintenance
forms, and how the card and checklist show whether an incident is on the page."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DateTimePickerElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticMultiSelectElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from blocks.ids import Callback
from blocks.payloads import IncidentForm
from blocks.text import escape, truncate
from bot.statuspage.config import PageConfig
from bot.statuspage.maintenance import F_END, F_START
from bot.statuspage.publish import (
    F_COMPONENTS,
    F_MESSAGE,
    F_STATUS,
    F_TITLE,
    MESSAGE_MAX,
    RESOLVED_MESSAGE,
    TITLE_MAX,
)
from bot.statuspage.vocabulary import ComponentStatus

STATUSPAGE_MODAL = Callback.STATUSPAGE_MODAL.value
MAINTENANCE_MODAL = Callback.MAINTENANCE_MODAL.value
OPTION_MAX = 75


def component_options(config: PageConfig) -> list[Option]:
    """One option per configured component (group shown in front)."""
    groups = {g.id: g.name for g in config.groups}
    return [
        Option(
            value=c.id,
            text=truncate(f"{groups[c.group_id]} / {c.name}" if c.group_id else c.name, OPTION_MAX),
        )
        for c in config.components
    ]


def status_options(*, include_maintenance: bool = True) -> list[Option]:
    """Component statuses, in Statuspage's words."""
    return [
        Option(value=s.value, text=s.label)
        for s in ComponentStatus
        if include_maintenance or s is not ComponentStatus.UNDER_MAINTENANCE
    ]


def _pick(options: list[Option], values: Sequence[str]) -> list[Option]:
    return [o for o in options if o.value in values]


def form_fields(
    config: PageConfig,
    *,
    selected: Sequence[str] = (),
    status: str | None = None,
    on_page_url: str | None = None,
) -> list[Block]:
    """ "Affected components", "Component status" and "Status page message" for a form."""
    comps = component_options(config)
    statuses = status_options()
    initial_status = _pick(statuses, [status] if status else [])
    where = (
        f"This incident is <{on_page_url}|on the status page>: a message adds a public update."
        if on_page_url
        else f"Writing a status page message publishes the incident on <{config.url}/status|"
        f"{config.name}>; until then it stays internal."
    )
    return [
        InputBlock(
            block_id=F_COMPONENTS,
            label="Affected components",
            optional=True,
            element=StaticMultiSelectElement(
                action_id=F_COMPONENTS,
                placeholder="Components customers see as affected",
                options=comps,
                initial_options=_pick(comps, selected) or None,
            ),
        ),
        InputBlock(
            block_id=F_STATUS,
            label="Component status",
            optional=True,
            element=StaticSelectElement(
                action_id=F_STATUS,
                placeholder="Status of those components",
                options=statuses,
                initial_option=initial_status[0] if initial_status else None,
            ),
        ),
        InputBlock(
            block_id=F_MESSAGE,
            label="Status page message",
            optional=True,
            element=PlainTextInputElement(
                action_id=F_MESSAGE,
                multiline=True,
                max_length=MESSAGE_MAX,
                placeholder="What customers read (no internal details)",
            ),
        ),
        ContextBlock(elements=[MarkdownTextObject(text=where)]),
    ]


def resolve_fields(config: PageConfig, *, on_page_url: str) -> list[Block]:
    """The final public message and the components' status after resolving."""
    statuses = status_options()
    return [
        InputBlock(
            block_id=F_MESSAGE,
            label="Final status page message",
            element=PlainTextInputElement(
                action_id=F_MESSAGE,
                multiline=True,
                max_length=MESSAGE_MAX,
                initial_value=RESOLVED_MESSAGE,
            ),
        ),
        InputBlock(
            block_id=F_STATUS,
            label="Affected components become",
            element=StaticSelectElement(
                action_id=F_STATUS,
                options=statuses,
                initial_option=statuses[0],
            ),
        ),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"This incident is <{on_page_url}|on the status page>; customers "
                    "read the message above."
                )
            ]
        ),
    ]


def statuspage_modal(
    config: PageConfig,
    *,
    incident_id: int,
    headline: str,
    title: str,
    selected: Sequence[str] = (),
    status: str | None = None,
    on_page_url: str | None = None,
) -> View:
    """`/incident statuspage`: public title, components, their status and a message."""
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=f"*{truncate(escape(headline), 2900)}*")),
        InputBlock(
            block_id=F_TITLE,
            label="Public title",
            element=PlainTextInputElement(
                action_id=F_TITLE, max_length=TITLE_MAX, initial_value=truncate(title, TITLE_MAX)
            ),
        ),
        *form_fields(config, selected=selected, status=status, on_page_url=on_page_url),
    ]
    blocks[4] = InputBlock(  # the message is what this form is for
        block_id=F_MESSAGE,
        label="Status page message",
        element=PlainTextInputElement(
            action_id=F_MESSAGE,
            multiline=True,
            max_length=MESSAGE_MAX,
            placeholder="What customers read (no internal details)",
        ),
    )
    return View(
        type="modal",
        callback_id=STATUSPAGE_MODAL,
        title="Status page",
        submit="Publish",
        close="Cancel",
        private_metadata=IncidentForm(incident_id=incident_id).encode(),
        blocks=blocks,
    )


def maintenance_modal(config: PageConfig, *, starts: datetime, ends: datetime) -> View:
    """`/incident maintenance`: a maintenance window customers see coming."""
    comps = component_options(config)
    blocks: list[Block] = [
        InputBlock(
            block_id=F_TITLE,
            label="Title",
            element=PlainTextInputElement(
                action_id=F_TITLE, max_length=TITLE_MAX, placeholder="e.g. Database upgrade"
            ),
        ),
        InputBlock(
            block_id=F_COMPONENTS,
            label="Components",
            optional=True,
            element=StaticMultiSelectElement(
                action_id=F_COMPONENTS, placeholder="Under maintenance while it runs", options=comps
            ),
        ),
        InputBlock(
            block_id=F_START,
            label="Start",
            element=DateTimePickerElement(
                action_id=F_START, initial_date_time=int(starts.timestamp())
            ),
        ),
        InputBlock(
            block_id=F_END,
            label="End",
            element=DateTimePickerElement(action_id=F_END, initial_date_time=int(ends.timestamp())),
        ),
        InputBlock(
            block_id=F_MESSAGE,
            label="Message",
            element=PlainTextInputElement(
                action_id=F_MESSAGE,
                multiline=True,
                max_length=MESSAGE_MAX,
                placeholder="What will happen and what customers may notice",
            ),
        ),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"It shows as upcoming on <{config.url}/status|{config.name}>, starts "
                    "and completes on time by itself."
                )
            ]
        ),
    ]
    return View(
        type="modal",
        callback_id=MAINTENANCE_MODAL,
        title="Schedule maintenance",
        submit="Schedule",
        close="Cancel",
        blocks=blocks,
    )


def card_field(enabled: bool, public_url: str | None) -> str | None:
    """The card's "Status page" field (None when there is no status page)."""
    if not enabled:
        return None
    if public_url:
        return f"*Status page*\n:large_green_circle: <{public_url}|On the page>"
    return "*Status page*\nNot on the page (`/incident statuspage &lt;message&gt;`)"


def checklist_note(enabled: bool, public_url: str | None) -> str:
    """What the checklist adds to "Update the status page"."""
    if not enabled:
        return ""
    if public_url:
        return f" (on the page: <{public_url}|public incident>)"
    return " (not on the page yet: `/incident statuspage &lt;message&gt;`)"
