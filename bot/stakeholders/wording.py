"""What a notice says, from its payload: shared by e-mail, SMS, Mastodon and Slack.

The payload is the incident as it was when the event was committed (see
`planning.snapshot`); the sending side adds `manager_name` and a readable `message` (Slack
markup turned into plain text) before rendering. Everything here is plain text: each channel
escapes it for its own markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.vocabulary import Severity, Status
from bot.stakeholders.config import Quadrant, Trigger

SMS_SEGMENTS = 2
MASTODON_MAX = 500
ELLIPSIS = "..."

# GSM 03.38: the basic set costs one septet, the extension set two.
_GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = "^{}\\[~]|€\f"


@dataclass(frozen=True)
class Facts:
    """A payload read for people."""

    trigger: Trigger
    number: int
    title: str
    severity: str
    old_severity: str | None
    status: str
    impact: str
    summary: str
    message: str
    manager: str
    next_update: str | None
    status_page_url: str
    quadrant: str

    @property
    def event_label(self) -> str:
        """declared / update / severity changed / resolved / message."""
        if self.trigger is Trigger.SEVERITY_CHANGED and self.old_severity:
            return f"moved from {self.old_severity} to {self.severity}"
        return {
            Trigger.DECLARED: "declared",
            Trigger.UPDATE: "update",
            Trigger.SEVERITY_CHANGED: "severity changed",
            Trigger.RESOLVED: "resolved",
            Trigger.MANUAL: "message",
        }[self.trigger]

    @property
    def headline(self) -> str:
        """`SEV1 incident #12 declared: Checkout is down`."""
        return f"{self.severity} incident #{self.number} {self.event_label}: {self.title}"

    @property
    def executive(self) -> bool:
        """True for groups that get the short executive summary."""
        return self.quadrant == Quadrant.KEEP_SATISFIED.value


def _severity_label(value: Any) -> str:
    try:
        return Severity(str(value)).label
    except ValueError:
        return str(value or "").upper()


def _status_label(value: Any) -> str:
    try:
        return Status(str(value)).label
    except ValueError:
        return str(value or "")


def when(value: Any) -> str | None:
    """An ISO timestamp as `14:30 UTC` (with the date when it is not today's)."""
    if not value:
        return None
    at = datetime.fromisoformat(str(value))
    return at.strftime("%Y-%m-%d %H:%M UTC")


def facts(payload: dict[str, Any], *, quadrant: str = "") -> Facts:
    """The facts of a notice payload."""
    trigger = Trigger(str(payload.get("trigger") or Trigger.MANUAL.value))
    message = str(payload.get("message_text") or payload.get("message") or "")
    return Facts(
        trigger=trigger,
        number=int(payload.get("number") or 0),
        title=str(payload.get("title") or ""),
        severity=_severity_label(payload.get("severity")),
        old_severity=_severity_label(payload["old_severity"])
        if payload.get("old_severity")
        else None,
        status=_status_label(payload.get("status")),
        impact=str(payload.get("impact") or ""),
        summary=str(payload.get("summary") or ""),
        message=message,
        manager=str(payload.get("manager_name") or "the incident manager"),
        next_update=when(payload.get("next_update_at")),
        status_page_url=str(payload.get("status_page_url") or ""),
        quadrant=quadrant,
    )


# -- SMS -----------------------------------------------------------------------------------


def is_gsm(text: str) -> bool:
    """True when every character is in the GSM 7-bit alphabet."""
    return all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in text)


def sms_units(text: str) -> int:
    """Septets (GSM) or UTF-16 code units (UCS-2) the text takes."""
    if is_gsm(text):
        return sum(2 if c in _GSM_EXTENDED else 1 for c in text)
    return len(text.encode("utf-16-le")) // 2


def sms_segments(text: str) -> int:
    """How many SMS segments carry `text` (160/153 GSM, 70/67 UCS-2)."""
    units = sms_units(text)
    single, multi = (160, 153) if is_gsm(text) else (70, 67)
    if units <= single:
        return 1
    return -(-units // multi)


def _cut(text: str, limit_units: int) -> str:
    """`text` cut to fit `limit_units` together with an ellipsis."""
    if sms_units(text) <= limit_units:
        return text
    out = ""
    for char in text:
        if sms_units(out + char + ELLIPSIS) > limit_units:
            break
        out += char
    return out.rstrip() + ELLIPSIS


def fit_sms(head: str, body: str, link: str, *, segments: int = SMS_SEGMENTS) -> str:
    """`head body link` within `segments` segments: the body shrinks first, then the head."""
    tail = f" {link}" if link else ""
    whole = " ".join(p for p in (head, body) if p) + tail
    if sms_segments(whole) <= segments:
        return whole
    gsm = is_gsm(whole)
    capacity = (
        (160 if segments == 1 else 153 * segments)
        if gsm
        else (70 if segments == 1 else 67 * segments)
    )
    room = capacity - sms_units(tail)
    head_units = sms_units(head)
    if body and room - head_units - 1 > len(ELLIPSIS) + 8:
        text = f"{head} {_cut(body, room - head_units - 1)}"
    else:
        text = _cut(head, room)
    return text + tail


def sms_text(data: Facts) -> str:
    """The SMS: headline, what is new or the impact, who leads, next update, status link."""
    head = data.headline + "."
    parts = []
    if data.message:
        parts.append(data.message)
    elif data.impact and data.trigger is not Trigger.RESOLVED:
        parts.append(f"Impact: {data.impact}")
    if data.trigger is not Trigger.RESOLVED:
        parts.append(f"Lead: {data.manager}.")
        if data.next_update:
            parts.append(f"Next update {data.next_update}.")
    body = " ".join(" ".join(p.split()) for p in parts)
    return fit_sms(" ".join(head.split()), body, data.status_page_url)


# -- Mastodon ------------------------------------------------------------------------------


def mastodon_text(data: Facts, *, limit: int = MASTODON_MAX) -> str:
    """A public post: what happened and the status page link (links count 23 characters)."""
    if data.trigger is Trigger.RESOLVED:
        lead = f"Resolved: {data.title}."
    elif data.trigger is Trigger.DECLARED:
        lead = f"We are investigating: {data.title}."
    else:
        lead = f"Update on {data.title}."
    body = data.message if data.trigger is not Trigger.DECLARED else data.impact
    link = f"\n\n{data.status_page_url}" if data.status_page_url else ""
    room = limit - len(lead) - (25 if link else 0) - 2
    text = " ".join(body.split())
    if len(text) > room:
        text = text[: max(0, room - 1)].rstrip() + "…"
    return (lead + (f" {text}" if text else "") + link).strip()
