"""The one shape every source's alerts are turned into before they are stored.

A parser turns a sender's payload into a `Batch`: the sender's group (its key and title) and
the alerts in it, each with a fingerprint that stays the same while the alert lasts. A
payload that cannot be read raises `MalformedPayload` with the reason, which the sender gets.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from bot.core.vocabulary import Severity

TITLE_MAX = 300
KEY_MAX = 128
TEXT_MAX = 3000
VALUE_MAX = 500  # one label, annotation or link
ITEMS_MAX = 64  # labels, annotations or links kept per alert
ALERTS_MAX = 1000  # alerts one delivery may carry


class MalformedPayload(ValueError):
    """The body is not what the sender's format says; the message says why."""


class Source(StrEnum):
    """Where an alert came from (also the last part of its webhook's path)."""

    ALERTMANAGER = "alertmanager"
    GRAFANA = "grafana"
    PAGERDUTY = "pagerduty"
    OPSGENIE = "opsgenie"
    DATADOG = "datadog"
    GENERIC = "generic"


class AlertState(StrEnum):
    """An alert fires until it resolves."""

    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class AlertIn:
    """One alert as a sender described it in one delivery."""

    fingerprint: str
    state: AlertState
    title: str
    severity: str | None = None
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    acknowledged_by: str | None = None  # someone acknowledged it in the sending tool


@dataclass(frozen=True)
class Batch:
    """One delivery: the alerts of one group, as the sender grouped them."""

    source: Source
    group_key: str
    title: str
    alerts: tuple[AlertIn, ...]
    labels: dict[str, str] = field(default_factory=dict)
    delivery_id: str | None = None  # the sender's id of this delivery (retries repeat it)
    ignored: str | None = None  # set when the delivery carries no alert (a ping, a note)
    # The sender says the whole group resolved (Alertmanager's group status), even alerts
    # it left out of this delivery (`truncatedAlerts`).
    all_resolved: bool = False


def ignored(source: Source, reason: str, delivery_id: str | None = None) -> Batch:
    """A delivery that is accepted and carries nothing to store."""
    return Batch(
        source=source, group_key="", title="", alerts=(), delivery_id=delivery_id, ignored=reason
    )


# --- Cleaning what senders send ---------------------------------------------------------------


def clip(value: Any, limit: int) -> str:
    """`value` as one stripped string of at most `limit` characters."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def one_line(value: Any, limit: int = TITLE_MAX) -> str:
    """`value` on one line (whitespace runs collapsed), at most `limit` characters."""
    return clip(" ".join(str(value or "").split()), limit)


def key(value: Any) -> str:
    """A fingerprint or group key that fits its column: long ones are replaced by a hash."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= KEY_MAX:
        return text
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def string_map(value: Any, where: str) -> dict[str, str]:
    """A JSON object of strings (labels, annotations); other scalars are turned into text."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedPayload(f"{where} must be an object")
    out: dict[str, str] = {}
    for name, item in list(value.items())[:ITEMS_MAX]:
        if isinstance(item, (dict, list)):
            continue
        out[clip(name, 100)] = clip("" if item is None else item, VALUE_MAX)
    return out


def links_of(**candidates: Any) -> dict[str, str]:
    """The http(s) links among `candidates` (name -> URL); others are dropped."""
    return {
        name: clip(url, VALUE_MAX)
        for name, url in candidates.items()
        if isinstance(url, str) and url.strip().lower().startswith(("http://", "https://"))
    }


GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


def parse_time(value: Any, where: str) -> datetime | None:
    """An RFC 3339 time (or epoch seconds/milliseconds) as aware UTC; Go's zero time is None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise MalformedPayload(f"{where} is not a time")
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
        number = float(value)
        if number > 10**11:  # milliseconds (or finer)
            while number > 10**11:
                number /= 1000
        try:
            return datetime.fromtimestamp(number, UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise MalformedPayload(f"{where} is not a time: {value!r}") from exc
    if not isinstance(value, str):
        raise MalformedPayload(f"{where} is not a time")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise MalformedPayload(f"{where} is not an RFC 3339 time: {clip(value, 40)!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    return None if parsed <= GO_ZERO_TIME else parsed


def require_object(value: Any, where: str) -> dict[str, Any]:
    """`value`, which must be a JSON object."""
    if not isinstance(value, dict):
        raise MalformedPayload(f"{where} must be a JSON object")
    return value


# --- Severities -------------------------------------------------------------------------------

_SEVERITY_WORDS: dict[str, Severity] = {}
for _sev, _words in {
    Severity.SEV1: "critical crit fatal emergency disaster p1 sev1 sev-1 sev0 page urgent",
    Severity.SEV2: "high error major p2 sev2 sev-2 alert",
    Severity.SEV3: "warning warn average medium minor p3 sev3 sev-3 moderate",
    Severity.SEV4: "low info information informational notice p4 p5 sev4 sev-4 debug none",
}.items():
    for _word in _words.split():
        _SEVERITY_WORDS[_word] = _sev
_SEVERITY_WORDS["not classified"] = Severity.SEV4


def incident_severity(value: str | None) -> Severity | None:
    """The incident severity a sender's severity word maps to (critical -> SEV1 ...), or None."""
    if not value:
        return None
    word = re.sub(r"\s+", " ", value.strip().lower())
    return _SEVERITY_WORDS.get(word)
