"""The alert triage message, its modals, and the escalation and resolve notices.

Everything a monitoring tool sent is text from outside: it is escaped before it reaches
mrkdwn, and links are only ever http(s) URLs with their delimiters encoded.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from blocks.text import SECTION_MAX, escape, mention, slack_date, truncate
from bot.alerts.escalation import Targets
from bot.alerts.model import incident_severity
from bot.alerts.rules import AlertRules
from bot.alerts.triage import REASON_MAX, TriageView
from bot.incidents import MESSAGE_MAX, TITLE_MAX

# Ids of this feature's buttons and modals (kept here: the listeners are in handlers/alerts).
KEY_PREFIX = "alert_group_"
ACKNOWLEDGE = "alert_acknowledge"
DISMISS = "alert_dismiss"
DECLARE = "alert_declare"
LINK = "alert_link"
DISMISS_MODAL = "alert_dismiss_modal"
LINK_MODAL = "alert_link_modal"
REASON = "reason"
INCIDENT = "incident"

SOURCE_NAMES = {
    "alertmanager": "Alertmanager",
    "grafana": "Grafana",
    "pagerduty": "PagerDuty",
    "opsgenie": "Opsgenie",
    "datadog": "Datadog",
    "generic": "Webhook",
}
LINK_NAMES = {
    "incident": "Open in PagerDuty",
    "runbook": "Runbook",
    "dashboard": "Dashboard",
    "panel": "Panel",
    "source": "Source",
    "link": "Open",
    "silence": "Silence",
    "image": "Image",
}
LABELS_SHOWN = 8
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")


def url(target: str) -> str:
    """An http(s) URL made safe inside `<...|...>`."""
    return target.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")


def _who(value: str | None) -> str:
    if not value:
        return "someone"
    return mention(value) if _USER_ID.match(value) else escape(value)


def _labels(labels: dict[str, Any], limit: int = LABELS_SHOWN) -> str:
    shown = [f"`{escape(str(k))}={escape(str(v))}`" for k, v in list(labels.items())[:limit]]
    more = len(labels) - limit
    return " ".join(shown) + (f" +{more}" if more > 0 else "")


def _links(v: TriageView) -> str:
    found: dict[str, str] = {}
    for alert in v.alerts:
        for name, target in alert.links.items():
            found.setdefault(name, str(target))
    ordered = sorted(found, key=lambda n: list(LINK_NAMES).index(n) if n in LINK_NAMES else 99)
    return " · ".join(
        f"<{url(found[name])}|{LINK_NAMES.get(name, escape(name))}>" for name in ordered
    )


def _severity(v: TriageView) -> str:
    raw = v.group.severity
    if not raw:
        return "no severity"
    mapped = incident_severity(raw)
    return escape(raw) + (f" ({mapped.label})" if mapped and mapped.value != raw.lower() else "")


def headline(v: TriageView) -> str:
    """`:rotating_light: *Title*` plus where it came from, how bad, how many."""
    g = v.group
    firing = g.status == "firing"
    icon = ":rotating_light:" if firing else ":white_check_mark:"
    count = (
        f"{g.firing_count} of {g.alert_count} firing"
        if firing
        else f"resolved {slack_date(g.resolved_at)}"
        if g.resolved_at
        else "resolved"
    )
    source = SOURCE_NAMES.get(g.source, escape(g.source))
    return (
        f"{icon} *{escape(g.title)}*\n{source} · {_severity(v)} · {count} · "
        f"since {slack_date(g.first_alert_at)}"
    )


def _state(v: TriageView) -> str | None:
    g = v.group
    if g.state in ("declared", "linked") and v.incident_number is not None:
        where = f" in <#{v.incident_channel}>" if v.incident_channel else ""
        verb = "Declared as" if g.state == "declared" else "Linked to"
        return f":link: {verb} incident #{v.incident_number}{where}"
    if g.state == "dismissed":
        return (
            f":no_entry_sign: Dismissed by {_who(g.dismissed_by)}: {escape(g.dismiss_reason or '')}"
        )
    if g.acknowledged_at is not None:
        return f":eyes: Acknowledged by {_who(g.acknowledged_by)} {slack_date(g.acknowledged_at)}"
    return None


def _alert_lines(v: TriageView) -> str:
    lines = []
    for alert in v.alerts:
        dot = ":red_circle:" if alert.status == "firing" else ":white_circle:"
        own = {k: val for k, val in alert.labels.items() if v.group.labels.get(k) != val}
        extra = f" {_labels(own, 3)}" if own else ""
        lines.append(f"{dot} {escape(truncate(alert.title, 150))}{extra}")
    more = v.group.alert_count - len(v.alerts)
    if more > 0:
        lines.append(f"and {more} more")
    return "\n".join(lines)


def triage_text(v: TriageView) -> str:
    """The notification text of the message."""
    state = "Firing" if v.group.status == "firing" else "Resolved"
    return truncate(f"{state}: {escape(v.group.title)}", 300)


def triage_blocks(v: TriageView) -> list[Block]:
    """One message per alert group, edited in place as alerts fire, repeat and resolve."""
    g = v.group
    gid = str(g.id)
    blocks: list[Block] = [
        SectionBlock(block_id=f"{KEY_PREFIX}{gid}", text=truncate(headline(v), SECTION_MAX))
    ]
    details = [part for part in (_labels(g.labels) if g.labels else "", _links(v)) if part]
    if details:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=truncate(d, 2000)) for d in details])
        )
    if v.alerts:
        blocks.append(SectionBlock(text=truncate(_alert_lines(v), SECTION_MAX)))
    state = _state(v)
    if state:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=truncate(state, 2000))]))
    if g.state in ("new", "acknowledged"):
        buttons = [
            ButtonElement(text="Declare incident", action_id=DECLARE, value=gid, style="primary")
        ]
        buttons.append(ButtonElement(text="Link to incident", action_id=LINK, value=gid))
        if g.acknowledged_at is None and g.status == "firing":
            buttons.append(ButtonElement(text="Acknowledge", action_id=ACKNOWLEDGE, value=gid))
        buttons.append(ButtonElement(text="Dismiss", action_id=DISMISS, value=gid))
        blocks.append(ActionsBlock(block_id=f"alert_actions_{gid}", elements=buttons))
    return blocks


def group_of(message: dict[str, Any]) -> int | None:
    """The alert group of a message from `conversations.history`, if it is a triage message."""
    for block in message.get("blocks") or []:
        block_id = str(block.get("block_id") or "")
        if block_id.startswith(KEY_PREFIX) and block_id[len(KEY_PREFIX) :].isdigit():
            return int(block_id[len(KEY_PREFIX) :])
    return None


def declare_prefill(v: TriageView, permalink: str) -> dict[str, str]:
    """The declare form's title, severity and summary for this group (plain text)."""
    g = v.group
    severity = g.declare_severity or (
        mapped.value if (mapped := incident_severity(g.severity)) else ""
    )
    lines = [f"{g.alert_count} alert(s) from {SOURCE_NAMES.get(g.source, g.source)}: {g.title}"]
    lines += [f"- {a.title}" for a in v.alerts[:3]]
    if v.alerts and v.alerts[0].description:
        lines.append(v.alerts[0].description)
    if permalink:
        lines.append(f"Alert: {permalink}")
    for alert in v.alerts[:1]:
        for name in ("runbook", "dashboard", "source", "incident", "link"):
            if name in alert.links:
                lines.append(f"{LINK_NAMES.get(name, name)}: {alert.links[name]}")
    return {
        "title": truncate(g.title, TITLE_MAX),
        "severity": severity,
        "summary": truncate("\n".join(lines), MESSAGE_MAX),
    }


def dismiss_modal(v: TriageView) -> View:
    """Why is it not worth acting on?"""
    return View(
        type="modal",
        callback_id=DISMISS_MODAL,
        title="Dismiss alert",
        submit="Dismiss",
        close="Cancel",
        private_metadata=json.dumps({"group": v.group.id}),
        blocks=[
            SectionBlock(text=truncate(headline(v), SECTION_MAX)),
            InputBlock(
                block_id=REASON,
                label="Reason",
                element=PlainTextInputElement(
                    action_id=REASON,
                    max_length=REASON_MAX,
                    placeholder="Known flaky check, planned maintenance ...",
                ),
            ),
        ],
    )


def link_modal(v: TriageView, incidents: list[tuple[int, str]]) -> View:
    """Pick an open incident to attach the alerts to."""
    blocks: list[Block] = [SectionBlock(text=truncate(headline(v), SECTION_MAX))]
    if incidents:
        options = [Option(value=str(i), text=truncate(label, 75)) for i, label in incidents[:100]]
        blocks.append(
            InputBlock(
                block_id=INCIDENT,
                label="Incident",
                element=StaticSelectElement(
                    action_id=INCIDENT, placeholder="Choose an open incident", options=options
                ),
            )
        )
    else:
        blocks.append(SectionBlock(text="There is no open incident you can see."))
    return View(
        type="modal",
        callback_id=LINK_MODAL,
        title="Link to incident",
        submit="Link" if incidents else None,
        close="Cancel",
        private_metadata=json.dumps({"group": v.group.id}),
        blocks=blocks,
    )


def escalation_text(v: TriageView, level: int, levels: int, targets: Targets) -> str:
    """The thread reply (and DM) that reaches a level's people."""
    who = [mention(user) for user in targets.users]
    if targets.group:
        who.append(f"<!subteam^{targets.group}>")
    return (
        f":rotating_light: Escalation level {level + 1} of {levels}: {', '.join(who) or 'nobody'}"
        f", *{escape(v.group.title)}* is not acknowledged yet."
    )


def resolved_notice(v: TriageView) -> str:
    """Told in the linked incident's channel when the alerts resolve."""
    source = SOURCE_NAMES.get(v.group.source, escape(v.group.source))
    return (
        f":white_check_mark: The {source} alerts of this incident resolved: "
        f"*{escape(v.group.title)}* ({v.group.alert_count} alert(s)). The incident stays open "
        "until you resolve it."
    )


def _delay(after: timedelta) -> str:
    seconds = int(after.total_seconds())
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def oncall_text(rules: AlertRules, now: datetime) -> str:
    """`/incident oncall`: each schedule's person now, and whom each policy reaches, in order."""
    if not rules.schedules and not rules.policies:
        return (
            "No on-call schedules or escalation policies are set up: they live in the file "
            "ALERT_RULES_FILE names (see the README)."
        )
    lines = []
    if rules.schedules:
        lines.append("*On call now*")
        for name, schedule in rules.schedules.items():
            shift = schedule.shift(now)
            note = " (override)" if shift.override else ""
            lines.append(
                f"• {escape(name)}: {mention(shift.user)} until {slack_date(shift.end)}{note}"
            )
    if rules.policies:
        lines.append("*Escalation policies*")
        for name, policy in rules.policies.items():
            steps = []
            for index, level in enumerate(policy.levels):
                targets = policy.targets(index, rules.schedules, now)
                who = [mention(user) for user in targets.users]
                if targets.group:
                    who.append(f"<!subteam^{targets.group}>")
                when = "at once" if not level.after else f"after {_delay(level.after)}"
                via = f" (schedule {escape(level.schedule)})" if level.schedule else ""
                steps.append(f"{index + 1}. {when}: {', '.join(who)}{via}")
            lines.append(f"• {escape(name)}: " + "; ".join(steps))
    return truncate("\n".join(lines), SECTION_MAX)
