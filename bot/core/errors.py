"""Errors the domain raises; handlers turn them into messages users can act on."""

from __future__ import annotations


class DomainError(Exception):
    """A problem the user can fix; its message is shown to them as is."""


class InvalidInput(DomainError):
    """Input that fails validation; `fields` maps modal block ids to their inline errors."""

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.fields: dict[str, str] = dict(fields or {})


class NotFound(DomainError):
    """The thing the user referred to does not exist."""


class ConfigError(Exception):
    """The bot's configuration is missing or wrong; start-up stops with this message."""
