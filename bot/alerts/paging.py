"""Paging beyond Slack, in ALERT_RULES_FILE: phone numbers, and escalating incidents.

    phones:
      U012AB3CD: "+15551230000"     # E.164; texted by escalation levels with `sms: true`
    incidents:
      policy: major-incidents       # escalate an incident whose manager has not acknowledged
      severities: [sev1, sev2]      # optional; default: every severity

Phone numbers live here, beside the schedules and policies that page the same people (the
stakeholder file names people per group, for notices, not per Slack user).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.alerts.oncall import check_user
from bot.alerts.yamlfile import Lines
from bot.core.vocabulary import Severity

if TYPE_CHECKING:
    from bot.alerts.escalation import Policy

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


@dataclass(frozen=True)
class IncidentPaging:
    """Which policy escalates unacknowledged incidents, and for which severities."""

    policy: str
    severities: frozenset[Severity] = frozenset()  # empty: every severity

    def applies(self, severity: str) -> bool:
        """True when an incident of `severity` is escalated."""
        return not self.severities or severity in {s.value for s in self.severities}


def parse_phones(value: Any, lines: Lines) -> dict[str, str]:
    """`phones`: Slack user id -> E.164 number; FileError at the first bad entry."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise lines.error(("phones",), "must be a mapping of Slack user ids to phone numbers")
    found: dict[str, str] = {}
    for user, number in value.items():
        where = ("phones", user)
        try:
            user_id = check_user(user)
        except ValueError as exc:
            raise lines.error(where, str(exc)) from exc
        text = str(number).strip().replace(" ", "")
        if not E164.match(text):
            raise lines.error(where, f"{number!r} is not an E.164 number like +15551230000")
        found[user_id] = text
    return found


def parse_incidents(value: Any, lines: Lines, policies: dict[str, Policy]) -> IncidentPaging | None:
    """`incidents`: the policy (by name) and optional severities."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise lines.error(("incidents",), "must be a mapping with policy (and severities)")
    for key in value:
        if key not in ("policy", "severities"):
            raise lines.error(("incidents", key), "unknown key (expected policy, severities)")
    policy = str(value.get("policy") or "")
    if policy not in policies:
        raise lines.error(("incidents", "policy"), f"no policy named {policy!r}")
    raw = value.get("severities") or []
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        raise lines.error(("incidents", "severities"), "must be a list like [sev1, sev2]")
    severities = set()
    for i, item in enumerate(raw):
        try:
            severities.add(Severity(str(item).strip().lower()))
        except ValueError:
            raise lines.error(
                ("incidents", "severities", i), f"{item!r} is not a severity (sev1 … sev4)"
            ) from None
    return IncidentPaging(policy, frozenset(severities))
