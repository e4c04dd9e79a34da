"""An incident's escalation message (in its channel and by DM), with Acknowledge."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    MarkdownTextObject,
    SectionBlock,
)

from blocks.ids import Action
from blocks.payloads import IncidentValue
from blocks.text import escape, truncate
from bot.alerts.escalation import Targets

TITLE_MAX = 200


def incident_escalation_text(
    *,
    number: int,
    title: str,
    manager: str | None,
    level: int,
    levels: int,
    targets: Targets,
) -> str:
    """The mention in the incident channel (and the DM) that reaches a level's people."""
    who = [f"<@{user}>" for user in targets.users]
    if targets.group:
        who.append(f"<!subteam^{targets.group}>")
    lead = f"<@{manager}>" if manager else "nobody"
    return (
        f":rotating_light: Escalation level {level + 1} of {levels}: {', '.join(who) or 'nobody'}"
        f", incident #{number} *{escape(truncate(title, TITLE_MAX))}* is not acknowledged by "
        f"its incident manager ({lead}) yet."
    )


def incident_escalation_sms(*, number: int, title: str, level: int, levels: int) -> tuple[str, str]:
    """The SMS's head and body (plain text)."""
    head = f"Incident #{number} not acknowledged (escalation {level + 1}/{levels}):"
    return head, truncate(title, TITLE_MAX)


def escalation_blocks(text: str, *, incident_id: int) -> list[Block]:
    """The message: `text` (already escaped mrkdwn) and the Acknowledge button."""
    value = IncidentValue(incident_id=incident_id).encode()
    return [
        SectionBlock(text=MarkdownTextObject(text=text)),
        ActionsBlock(
            elements=[
                ButtonElement(
                    text="Acknowledge",
                    action_id=Action.ACKNOWLEDGE_INCIDENT,
                    value=value,
                    style="primary",
                )
            ]
        ),
    ]
