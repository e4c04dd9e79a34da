"""The Web API methods the emulator implements, by family."""

from __future__ import annotations

from . import chat, conversations, files, items, misc, usergroups, views
from ._base import Handler

REGISTRY: dict[str, Handler] = {
    **misc.METHODS,
    **conversations.METHODS,
    **chat.METHODS,
    **items.METHODS,
    **views.METHODS,
    **files.METHODS,
    **usergroups.METHODS,
}

#: Methods Slack answers without a token.
NO_AUTH = frozenset({"api.test"})

__all__ = ["NO_AUTH", "REGISTRY", "Handler"]
