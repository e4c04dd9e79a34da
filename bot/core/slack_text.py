"""Slack message markup made readable: mentions, channel links, links, dates and entities.

Slack writes `<@U123>`, `<#C123|ops>`, `<https://x|label>`, `<!here>` and escapes `&`, `<`
and `>`. The timeline keeps text people can read anywhere (the Markdown export, a file).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime

_TOKEN = re.compile(r"<([^<>]+)>")
_SPECIAL = {"here": "@here", "channel": "@channel", "everyone": "@everyone"}

NameOf = Callable[[str], str | None]


def _label(body: str) -> tuple[str, str | None]:
    target, sep, label = body.partition("|")
    return target, (label if sep else None)


def _user(target: str, label: str | None, user_name: NameOf | None) -> str:
    user_id = target[1:]
    name = user_name(user_id) if user_name is not None else None
    return "@" + (name or (label or "").lstrip("@") or user_id)


def _special(target: str, label: str | None) -> str:
    command = target[1:]
    head = command.split("^", 1)[0]
    if head in _SPECIAL:
        return _SPECIAL[head]
    if head == "subteam":
        return "@" + (label or "group").lstrip("@")
    if head == "date" and label is None:
        parts = command.split("^")
        if len(parts) > 1 and parts[1].isdigit():
            return datetime.fromtimestamp(int(parts[1]), UTC).strftime("%Y-%m-%d %H:%M UTC")
    return label or ""


def _link(target: str, label: str | None) -> str:
    if target.startswith("mailto:"):
        return label or target[len("mailto:") :]
    if label is None or label == target:
        return target
    return f"{label} ({target})"


def render(
    text: str, *, user_name: NameOf | None = None, channel_name: NameOf | None = None
) -> str:
    """Readable text from Slack markup; `user_name`/`channel_name` look ids up (None: unknown)."""

    def replace(match: re.Match[str]) -> str:
        target, label = _label(match.group(1))
        if target.startswith("@"):
            return _user(target, label, user_name)
        if target.startswith("#"):
            name = label or (channel_name(target[1:]) if channel_name is not None else None)
            return "#" + (name or target[1:])
        if target.startswith("!"):
            return _special(target, label)
        return _link(target, label)

    return html.unescape(_TOKEN.sub(replace, text or ""))


def mentioned_users(text: str) -> list[str]:
    """The user ids mentioned in Slack markup, in order, without repeats."""
    found = re.findall(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>", text or "")
    return list(dict.fromkeys(found))


def escape(text: str) -> str:
    """Text made safe to put inside Slack mrkdwn (`&`, `<` and `>` escaped)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
