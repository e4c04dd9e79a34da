"""One notice as senders get it: the item the delivery engine hands them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Notice:
    """One due notice, as senders get it."""

    id: int
    key: str
    incident_id: int | None  # None: an alert group's escalation SMS
    channel: str
    recipient: str
    trigger: str
    event: str
    group: str
    quadrant: str
    payload: dict[str, Any]
    attempts: int
    incident_channel_id: str | None = None
    parent_id: int | None = None
    # An earlier attempt stopped half-way (a crash): it may or may not have got through.
    outcome_unknown: bool = False
