"""The status page's words, as Atlassian Statuspage spells them (its API uses these values)."""

from __future__ import annotations

import re
from enum import StrEnum

from bot.core.errors import InvalidInput


class ComponentStatus(StrEnum):
    """A component's status, best first."""

    OPERATIONAL = "operational"
    UNDER_MAINTENANCE = "under_maintenance"
    DEGRADED_PERFORMANCE = "degraded_performance"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"

    @property
    def label(self) -> str:
        """`Degraded performance`"""
        return self.value.replace("_", " ").capitalize()

    @property
    def rank(self) -> int:
        """How bad it is: 0 operational ... 4 major outage (maintenance counts as 1)."""
        return _RANK[self]

    @property
    def downtime_weight(self) -> float:
        """Share of the time in this status that counts as downtime (Statuspage's rule)."""
        return _DOWNTIME.get(self, 0.0)


_RANK = {
    ComponentStatus.OPERATIONAL: 0,
    ComponentStatus.UNDER_MAINTENANCE: 1,
    ComponentStatus.DEGRADED_PERFORMANCE: 2,
    ComponentStatus.PARTIAL_OUTAGE: 3,
    ComponentStatus.MAJOR_OUTAGE: 4,
}
# A major outage is all downtime, a partial outage 30%; degraded and maintenance none.
_DOWNTIME = {ComponentStatus.MAJOR_OUTAGE: 1.0, ComponentStatus.PARTIAL_OUTAGE: 0.3}


def worst(statuses: list[ComponentStatus]) -> ComponentStatus:
    """The worst of `statuses` (operational when there are none)."""
    return max(statuses, key=lambda s: s.rank, default=ComponentStatus.OPERATIONAL)


class Impact(StrEnum):
    """An incident's impact, and the page's indicator (which adds maintenance)."""

    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"
    MAINTENANCE = "maintenance"


IMPACT_RANK = {
    Impact.NONE: 0,
    Impact.MAINTENANCE: 1,
    Impact.MINOR: 2,
    Impact.MAJOR: 3,
    Impact.CRITICAL: 4,
}

IMPACT_OF_STATUS = {
    ComponentStatus.OPERATIONAL: Impact.NONE,
    ComponentStatus.UNDER_MAINTENANCE: Impact.MAINTENANCE,
    ComponentStatus.DEGRADED_PERFORMANCE: Impact.MINOR,
    ComponentStatus.PARTIAL_OUTAGE: Impact.MAJOR,
    ComponentStatus.MAJOR_OUTAGE: Impact.CRITICAL,
}

# status.json's description for each indicator, in Statuspage's words.
INDICATOR_DESCRIPTIONS = {
    Impact.NONE: "All Systems Operational",
    Impact.MINOR: "Minor Service Outage",
    Impact.MAJOR: "Partial System Outage",
    Impact.CRITICAL: "Major Service Outage",
    Impact.MAINTENANCE: "Service Under Maintenance",
}


class PublicStatus(StrEnum):
    """A public incident's status (the same words as the internal incident's)."""

    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"

    @property
    def label(self) -> str:
        """Capitalised."""
        return self.value.capitalize()


class MaintenanceStatus(StrEnum):
    """A scheduled maintenance's status."""

    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    VERIFYING = "verifying"
    COMPLETED = "completed"

    @property
    def label(self) -> str:
        """`In progress`"""
        return self.value.replace("_", " ").capitalize()


UNRESOLVED = frozenset({"investigating", "identified", "monitoring"})

_ALIASES = {
    "operational": ComponentStatus.OPERATIONAL,
    "ok": ComponentStatus.OPERATIONAL,
    "up": ComponentStatus.OPERATIONAL,
    "degraded": ComponentStatus.DEGRADED_PERFORMANCE,
    "degraded performance": ComponentStatus.DEGRADED_PERFORMANCE,
    "degraded_performance": ComponentStatus.DEGRADED_PERFORMANCE,
    "partial": ComponentStatus.PARTIAL_OUTAGE,
    "partial outage": ComponentStatus.PARTIAL_OUTAGE,
    "partial_outage": ComponentStatus.PARTIAL_OUTAGE,
    "major": ComponentStatus.MAJOR_OUTAGE,
    "major outage": ComponentStatus.MAJOR_OUTAGE,
    "major_outage": ComponentStatus.MAJOR_OUTAGE,
    "down": ComponentStatus.MAJOR_OUTAGE,
    "outage": ComponentStatus.MAJOR_OUTAGE,
    "maintenance": ComponentStatus.UNDER_MAINTENANCE,
    "under maintenance": ComponentStatus.UNDER_MAINTENANCE,
    "under_maintenance": ComponentStatus.UNDER_MAINTENANCE,
}
VALID_STATUSES = ", ".join(s.value for s in ComponentStatus)


def parse_component_status(text: str) -> ComponentStatus:
    """A ComponentStatus from user text (`major outage`, `major_outage`, `major`...)."""
    key = re.sub(r"[\s-]+", " ", (text or "").strip().lower())
    found = _ALIASES.get(key)
    if found is None:
        shown = (text or "").strip() or "(nothing)"
        raise InvalidInput(f"Unknown component status `{shown}`. Valid: {VALID_STATUSES}.")
    return found


def split_status_suffix(text: str) -> tuple[str, ComponentStatus]:
    """`Card payments partial outage` -> ("Card payments", PARTIAL_OUTAGE): the status last."""
    words = (text or "").split()
    for take in (2, 1):
        if len(words) > take:
            key = " ".join(words[-take:]).lower()
            key = re.sub(r"[\s-]+", " ", key)
            if key in _ALIASES:
                return " ".join(words[:-take]), _ALIASES[key]
    raise InvalidInput(
        "Give a component and a status, e.g. `/incident component API major outage`. "
        f"Valid statuses: {VALID_STATUSES}."
    )
