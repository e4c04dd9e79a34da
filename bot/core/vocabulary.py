"""Statuses, severities and roles: the words of the incident process."""

from __future__ import annotations

from enum import StrEnum

from bot.core.errors import InvalidInput


class Status(StrEnum):
    """Incident statuses, in the vocabulary status pages use."""

    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"

    @property
    def label(self) -> str:
        """Capitalised for display."""
        return self.value.capitalize()


class Severity(StrEnum):
    """SEV1 is the worst."""

    SEV1 = "sev1"
    SEV2 = "sev2"
    SEV3 = "sev3"
    SEV4 = "sev4"

    @property
    def label(self) -> str:
        """Upper case for display: SEV1."""
        return self.value.upper()

    @property
    def description(self) -> str:
        """One line on what the severity means."""
        return SEVERITY_DESCRIPTIONS[self]


SEVERITY_DESCRIPTIONS = {
    Severity.SEV1: "Critical: the product is down or data is at risk for many customers.",
    Severity.SEV2: "Major: a core feature is broken or badly degraded for many customers.",
    Severity.SEV3: "Minor: a feature is degraded for some customers; a workaround exists.",
    Severity.SEV4: "Low: little customer impact; needs tracking and a fix.",
}


class Role(StrEnum):
    """Incident roles. The incident manager is required; the others are optional."""

    INCIDENT_MANAGER = "incident_manager"
    COMMS_LEAD = "comms_lead"
    SCRIBE = "scribe"

    @property
    def label(self) -> str:
        """Human name of the role."""
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.INCIDENT_MANAGER: "Incident manager",
    Role.COMMS_LEAD: "Communications lead",
    Role.SCRIBE: "Scribe",
}

ROLE_ALIASES = {
    "incident_manager": Role.INCIDENT_MANAGER,
    "incident-manager": Role.INCIDENT_MANAGER,
    "manager": Role.INCIDENT_MANAGER,
    "im": Role.INCIDENT_MANAGER,
    "comms_lead": Role.COMMS_LEAD,
    "comms-lead": Role.COMMS_LEAD,
    "comms": Role.COMMS_LEAD,
    "communications": Role.COMMS_LEAD,
    "communications_lead": Role.COMMS_LEAD,
    "scribe": Role.SCRIBE,
}


def parse_status(text: str) -> Status:
    """A Status from user text, or InvalidInput listing the valid ones."""
    value = text.strip().lower()
    try:
        return Status(value)
    except ValueError:
        valid = ", ".join(s.value for s in Status)
        shown = value or "(nothing)"
        raise InvalidInput(f"Unknown status `{shown}`. Valid statuses: {valid}.") from None


def parse_severity(text: str) -> Severity:
    """A Severity from user text (sev2, SEV2, 2), or InvalidInput listing the valid ones."""
    value = text.strip().lower()
    if value.isdigit():
        value = f"sev{value}"
    try:
        return Severity(value)
    except ValueError:
        valid = ", ".join(s.label for s in Severity)
        shown = text.strip() or "(nothing)"
        raise InvalidInput(f"Unknown severity `{shown}`. Valid severities: {valid}.") from None


def parse_role(text: str) -> Role:
    """A Role from user text (manager, comms, scribe...), or InvalidInput listing them."""
    role = ROLE_ALIASES.get(text.strip().lower())
    if role is None:
        shown = text.strip() or "(nothing)"
        raise InvalidInput(
            f"Unknown role `{shown}`. Valid roles: incident_manager (or manager), "
            "comms_lead (or comms), scribe."
        )
    return role
