"""Hostile text and the checks that it never turns into Slack markup (shared by tests)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

HOSTILE = (
    "<!everyone> <!here> <!channel> <!subteam^S123|@oncall> "
    "<http://evil.example|https://sso.acme.com> <@UEVIL> <#CEVIL> a&b"
)
# The same, as it shows once escaped for mrkdwn.
HOSTILE_ESCAPED = HOSTILE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
# Markup that must never come out of input: broadcasts, group pings, links, mentions.
FORBIDDEN = ("<!everyone", "<!here", "<!subteam", "<http://evil", "<@UEVIL", "<#CEVIL")


def texts(node: Any, *, top_plain: bool = False) -> Iterator[tuple[str, str]]:
    """(`mrkdwn` or `plain`, text) for every string Slack shows from blocks, a view or a
    message (a message's `text` is mrkdwn; a bare string is mrkdwn unless `top_plain`)."""
    if isinstance(node, str):
        yield ("plain" if top_plain else "mrkdwn"), node
    elif isinstance(node, list):
        for x in node:
            yield from texts(x, top_plain=top_plain)
    elif isinstance(node, dict):
        kind = node.get("type")
        if kind in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
            yield ("mrkdwn" if kind == "mrkdwn" else "plain"), node["text"]
            return
        for key, value in node.items():
            if key == "text" and isinstance(value, str):
                yield "mrkdwn", value  # a message's fallback text
            elif key in ("initial_value", "placeholder") and isinstance(value, str):
                yield "plain", value
            elif key in ("private_metadata", "block_id", "action_id", "value", "callback_id"):
                continue
            elif isinstance(value, dict | list):
                yield from texts(value, top_plain=top_plain)


def assert_no_markup_from_input(message: Any, *, where: str = "") -> str:
    """Fail if hostile input survives as markup in `message`; returns all its mrkdwn text."""
    found = [text for kind, text in texts(message) if kind == "mrkdwn"]
    for text in found:
        for bad in FORBIDDEN:
            assert bad not in text, f"{bad} from input survived {where}: {text!r}"
        assert "&amp;lt;" not in text, f"escaped twice {where}: {text!r}"
    return "\n".join(found)
