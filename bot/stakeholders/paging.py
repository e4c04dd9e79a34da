"""Escalation levels as notices: a mention in the incident channel, DMs, and SMS.

An escalation level (of an alert group, bot.alerts.triage, or of an incident whose manager has
not acknowledged, bot.alerts.incident_escalation) is claimed once; in the same transaction
`plan_level` adds its deliveries as `stakeholder_notice` rows, so the delivery engine sends
each once, retries what failed and shows what was given up: channel `escalation` for the
message in the incident channel (recipient `incident-channel`), the reply under an alert
group's triage message (recipient `alert-thread`; the message's channel and ts are in the
payload) and the DM to each person, channel `sms` for a text to each person with a phone
number (ALERT_RULES_FILE `phones`), through the stakeholder SMS channel (SMS_PROVIDER). An
alert group's rows have no incident.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.stakeholders.config import Trigger
from bot.stakeholders.planning import Target, insert
from bot.stakeholders.wording import fit_sms

ESCALATION = "escalation"
SMS = "sms"
HERE = "incident-channel"
THREAD = "alert-thread"  # the reply in the thread of an alert group's triage message


def sms_for(head: str, body: str) -> str:
    """An escalation's text message, within two segments."""
    return fit_sms(" ".join(head.split()), " ".join(body.split()), "")


def plan_level(
    session: Session,
    *,
    incident_id: int | None,
    ref: str,
    text: str,
    users: Sequence[str],
    in_channel: bool,
    sms: bool,
    phones: Mapping[str, str],
    sms_text: str,
    now: datetime,
    alert_group: int | None = None,
    thread: tuple[str, str] | None = None,
) -> int:
    """Add one level's deliveries; count them. `text` is the Slack message (mrkdwn, built and
    escaped by blocks/), `sms_text` the plain text message. `alert_group`: the level is an
    alert group's, replied to in its triage message's thread (`thread`, channel and ts, when
    already posted; else the sender looks it up) and linked from the DMs."""
    planned = [Target(ESCALATION, user) for user in dict.fromkeys(users)]
    if alert_group is not None:
        planned.insert(0, Target(ESCALATION, THREAD))
    if in_channel:
        planned.insert(0, Target(ESCALATION, HERE))
    payload: dict[str, Any] = {"incident_id": incident_id, "text": text, "sms_text": sms_text}
    if alert_group is not None:
        payload["alert_group_id"] = alert_group
    if thread is not None:
        payload["alert_channel"], payload["alert_ts"] = thread
    added = insert(
        session,
        incident_id=incident_id,
        ref=ref,
        trigger=Trigger.MANUAL,
        payload=payload,
        planned=planned,
        now=now,
    )
    if sms:
        texts = [Target(SMS, phones[u]) for u in dict.fromkeys(users) if u in phones]
        added += insert(
            session,
            incident_id=incident_id,
            ref=ref,
            trigger=Trigger.MANUAL,
            payload=payload,
            planned=texts,
            now=now,
        )
    return added
