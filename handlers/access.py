"""The one gate every slash command, button, select, shortcut and form submission passes.

handlers/scope.py resolves each request into a `Scope` and calls `admit` before any listener
runs; a request `admit` refuses is answered, its user told why, and nothing is changed.
Events (reactions, edits) do not come through here: they carry nothing of ours to check and
act only inside incident channels.

Authorisation (who may see, change or resolve which incident) belongs here too.
"""

from __future__ import annotations

from blocks.payloads import PayloadError
from handlers.context import Scope


def admit(scope: Scope) -> None:
    """Let the request through, or raise a DomainError that says why not.

    What the bot's own message or form names must belong where it came from: a control in an
    incident's channel (or a form opened from one) acts on that incident and no other, and an
    action item on an incident's list belongs to that incident.
    """
    payload = scope.payload
    named = payload.incident_ref if payload is not None else None
    if payload is None or named is None:
        return
    here = scope.channel_incident
    if here is not None and here.id != named:
        raise PayloadError(
            f"That {payload.WHAT} is about another incident than this channel's "
            f"(#{here.number}), so nothing was changed."
        )
    if scope.incident is not None and scope.incident.id != named:
        raise PayloadError(f"That {payload.WHAT} does not match its incident; nothing was changed.")
