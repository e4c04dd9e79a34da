"""Callback, block and action ids shared by the builders and the listeners."""

from __future__ import annotations

from enum import StrEnum


class Command(StrEnum):
    """Slash commands."""

    INCIDENT = "/incident"
