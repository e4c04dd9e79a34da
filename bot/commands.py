"""The `/incident` sub-commands: their catalogue, parsing and "did you mean" suggestions."""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Subcommand:
    """One `/incident` sub-command as the help lists it."""

    name: str
    usage: str
    summary: str
    needs_incident_channel: bool = False


CATALOGUE: tuple[Subcommand, ...] = (
    Subcommand("help", "/incident help", "Show this list of commands."),
)


def catalogue() -> tuple[Subcommand, ...]:
    """Every sub-command, in the order the help shows them."""
    return CATALOGUE


def find(name: str) -> Subcommand | None:
    """The sub-command called `name`, if there is one."""
    return next((sub for sub in CATALOGUE if sub.name == name), None)


def split(text: str) -> tuple[str, str]:
    """Split command text into a lowercase sub-command name and the rest ('' means help)."""
    stripped = (text or "").strip()
    if not stripped:
        return "help", ""
    head, _, rest = stripped.partition(" ")
    return head.lower(), rest.strip()


def suggest(name: str) -> str | None:
    """The closest sub-command name to a mistyped one, or None when nothing is close."""
    names = [sub.name for sub in CATALOGUE]
    prefixed = [n for n in names if name and n.startswith(name)]
    if len(prefixed) == 1:
        return prefixed[0]
    matches = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return matches[0] if matches else None
