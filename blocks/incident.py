"""Messages about one incident: the pinned card, the broadcast line, topic, notices."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    Option,
    SectionBlock,
    StaticSelectElement,
)

from blocks import statuspage
from blocks.ids import Action
from blocks.payloads import CardBlockId, IncidentValue
from blocks.stakeholders import email_managers_blocks
from blocks.text import (
    HEADER_MAX,
    SECTION_MAX,
    duration,
    escape,
    link,
    mention,
    slack_date,
    truncate,
)
from bot.core.vocabulary import Role, Severity, Status
from bot.incidents import IncidentView

SEVERITY_EMOJI = {
    Severity.SEV1: ":red_circle:",
    Severity.SEV2: ":large_orange_circle:",
    Severity.SEV3: ":large_yellow_circle:",
    Severity.SEV4: ":large_blue_circle:",
}
TOPIC_MAX = 250

CHECKLIST = (
    "Acknowledge the problem and its impact in the incident channel.",
    "Update the status page.",
    "Email the managers who need to know.",
    "Keep the channel and the status updated on every finding (`/incident update`).",
    "Start the post-mortem once the incident is resolved.",
)


DRILL_PREFIX = "[DRILL] "


def headline(view: IncidentView) -> str:
    """`#12 Database is down` (a drill: `[DRILL] #12 Database is down`)."""
    mark = DRILL_PREFIX if view.incident.is_drill else ""
    return f"{mark}#{view.incident.number} {view.incident.title}"


def topic(view: IncidentView) -> str:
    """The channel topic: `SEV2 | Investigating | IM: @bob` (a drill: `DRILL | ...` first)."""
    text = f"{view.severity.label} | {view.status.label} | IM: {mention(view.manager)}"
    if view.incident.is_drill:
        text = f"DRILL (practice, not a real incident) | {text}"
    return truncate(text, TOPIC_MAX)


def status_options() -> list[Option]:
    """One option per status."""
    return [Option(value=s.value, text=s.label) for s in Status]


def severity_options(*, with_descriptions: bool = False) -> list[Option]:
    """One option per severity, optionally with its one-line meaning."""
    return [
        Option(
            value=s.value,
            text=s.label,
            description=truncate(s.description, 75) if with_descriptions else None,
        )
        for s in Severity
    ]


def _option(options: list[Option], value: str) -> Option:
    return next(o for o in options if o.value == value)


def card_blocks(view: IncidentView) -> list[Block]:
    """The incident card pinned in the incident's channel, with its controls."""
    inc = view.incident
    fields = [
        MarkdownTextObject(
            text=f"*Severity*\n{SEVERITY_EMOJI[view.severity]} {view.severity.label}"
        ),
        MarkdownTextObject(text=f"*Status*\n{view.status.label}"),
        MarkdownTextObject(text=f"*Incident manager*\n{mention(view.manager)}"),
        MarkdownTextObject(
            text=f"*Communications lead*\n{mention(view.roles.get(Role.COMMS_LEAD))}"
        ),
        MarkdownTextObject(text=f"*Scribe*\n{mention(view.roles.get(Role.SCRIBE))}"),
        MarkdownTextObject(text=f"*Started*\n{slack_date(inc.declared_at)}"),
    ]
    on_page = statuspage.card_field(view.status_page_enabled, view.public_url)
    if on_page is not None:
        fields.append(MarkdownTextObject(text=on_page))
    icon = ":performing_arts:" if inc.is_drill else ":rotating_light:"
    blocks: list[Block] = [
        HeaderBlock(text=truncate(f"{icon} {headline(view)}", HEADER_MAX)),
        SectionBlock(fields=fields),
    ]
    if inc.is_drill:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text="*This is a drill.* Nothing is published on the status page, no "
                        "customer or stakeholder group is told and nobody outside this channel "
                        "is paged. End it with `/incident drill end` to see the score."
                    )
                ]
            )
        )
    if inc.summary:
        blocks.append(SectionBlock(text=truncate(f"*Summary*\n{escape(inc.summary)}", SECTION_MAX)))
    if inc.impact:
        blocks.append(SectionBlock(text=truncate(f"*Impact*\n{escape(inc.impact)}", SECTION_MAX)))
    if inc.resolution:
        resolution = escape(inc.resolution)
        blocks.append(SectionBlock(text=truncate(f"*Resolution*\n{resolution}", SECTION_MAX)))
    assert inc.id is not None
    value = IncidentValue(incident_id=inc.id).encode()
    elements: list = [
        ButtonElement(
            text="Post update", action_id=Action.POST_UPDATE, value=value, style="primary"
        )
    ]
    statuses, severities = status_options(), severity_options()
    elements.append(
        StaticSelectElement(
            action_id=Action.SET_STATUS,
            placeholder="Change status",
            options=statuses,
            initial_option=_option(statuses, inc.status),
        )
    )
    elements.append(
        StaticSelectElement(
            action_id=Action.SET_SEVERITY,
            placeholder="Change severity",
            options=severities,
            initial_option=_option(severities, inc.severity),
        )
    )
    elements.append(ButtonElement(text="Assign role", action_id=Action.ASSIGN_ROLE, value=value))
    if view.status is not Status.RESOLVED:
        elements.append(
            ButtonElement(text="Resolve", action_id=Action.RESOLVE, value=value, style="danger")
        )
    blocks.append(
        ActionsBlock(block_id=CardBlockId(incident_id=inc.id).encode(), elements=elements)
    )
    context = f"Declared by {mention(inc.declared_by)}"
    if inc.origin_permalink:
        context += f" from {link(inc.origin_permalink, 'this message')}"
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=context)]))
    return blocks


def card_text(view: IncidentView) -> str:
    """Fallback text of the card (notifications; mrkdwn, so escaped)."""
    return f"{escape(headline(view))} ({view.severity.label}, {view.status.label})"


def broadcast_blocks(view: IncidentView, *, now: datetime) -> list[Block]:
    """The one line per incident in the broadcast channel, updated in place."""
    inc = view.incident
    where = f"<#{inc.channel_id}>" if inc.channel_id else "channel pending"
    line = (
        f"{SEVERITY_EMOJI[view.severity]} *{escape(headline(view))}*\n"
        f"{view.severity.label} · {view.status.label} · IM {mention(view.manager)} · {where}"
    )
    if view.status is Status.RESOLVED and inc.resolved_at is not None:
        age = f"resolved after {duration((inc.resolved_at - inc.declared_at).total_seconds())}"
    else:
        age = f"open for {duration((now - inc.declared_at).total_seconds())}"
    return [
        # The block id finds the line again if the bot stopped before it recorded its ts.
        SectionBlock(text=truncate(line, SECTION_MAX), block_id=f"incident_broadcast_{inc.id}"),
        ContextBlock(
            elements=[MarkdownTextObject(text=f"Declared {slack_date(inc.declared_at)} · {age}")]
        ),
    ]


def checklist_text(view: IncidentView) -> str:
    """The direct message a new incident manager gets."""
    note = statuspage.checklist_note(view.status_page_enabled, view.public_url)
    items = "\n".join(
        f"{n}. {item}{note if item == CHECKLIST[1] else ''}"
        for n, item in enumerate(CHECKLIST, start=1)
    )
    where = f"<#{view.incident.channel_id}>" if view.incident.channel_id else "the incident"
    return (
        f"You are now the incident manager of *{escape(headline(view))}* in {where}. "
        f"Your checklist:\n{items}"
    )


def checklist_blocks(view: IncidentView, *, email_managers: bool = False) -> list[Block]:
    """The incident manager's checklist as blocks (with step 3's button when it can be done).

    The block id finds the checklist again if the bot stopped before it recorded sending it.
    """
    blocks: list[Block] = [
        SectionBlock(
            text=truncate(checklist_text(view), SECTION_MAX),
            block_id=f"incident_checklist_{view.incident.id}",
        )
    ]
    if email_managers and view.incident.id is not None:
        blocks.extend(email_managers_blocks(view.incident.id))
    return blocks


def setup_failed_text(view: IncidentView, error: str) -> str:
    """Told to the declarer when an incident's setup stopped part-way."""
    return (
        f":warning: Incident *{escape(headline(view))}* is recorded, but its setup did not "
        f"finish. {escape(error)} Press *Retry setup* to finish it; no second incident is created."
    )


def setup_failed_blocks(view: IncidentView, error: str) -> list[Block]:
    """The setup failure notice with its Retry setup button."""
    assert view.incident.id is not None
    return [
        SectionBlock(text=truncate(setup_failed_text(view, error), SECTION_MAX)),
        ActionsBlock(
            elements=[
                ButtonElement(
                    text="Retry setup",
                    action_id=Action.RETRY_SETUP,
                    value=IncidentValue(incident_id=view.incident.id).encode(),
                    style="primary",
                )
            ]
        ),
    ]


def update_blocks(
    view: IncidentView, *, author: str, message: str, new_status: str | None
) -> list[Block]:
    """An update as posted in the channel and under the broadcast card."""
    head = f":mega: *Update on {escape(headline(view))}* from {mention(author)}"
    if new_status:
        head += f" · status now *{Status(new_status).label}*"
    return [SectionBlock(text=truncate(f"{head}\n{escape(message)}", SECTION_MAX))]
