"""Small text helpers for Block Kit: escaping, truncation, dates, mentions.

The one rule for text people typed: it is stored as they meant it and escaped with `escape`
(`&`, `<`, `>`) wherever it goes into mrkdwn or a message's fallback `text`, so `<!here>` or
`<http://x|y>` in a title shows as typed and never pings or hides a link. Plain-text objects
(headers, buttons, options, modal titles, input values) are not parsed by Slack and take the
text unescaped. Mentions, channel links and dates in messages are built here by the bot
(`mention`, `slack_date`), never taken from input.
"""

from __future__ import annotations

import re
from datetime import datetime

from bot.core.slack_text import escape as escape

SECTION_MAX = 3000
HEADER_MAX = 150
_CUT_ENTITY = re.compile(r"&(?:a(?:m(?:p)?)?|l(?:t)?|g(?:t)?)?$")


def truncate(text: str, limit: int) -> str:
    """Cut `text` to `limit` characters, marking the cut with an ellipsis.

    An escape (`&amp;`, `&lt;`, `&gt;`) is never cut in half: the cut moves before it.
    """
    if len(text) <= limit:
        return text
    return _CUT_ENTITY.sub("", text[: limit - 1]) + "…"


def slack_date(at: datetime, fmt: str = "{date_short_pretty} {time}") -> str:
    """A date Slack shows in each reader's own time zone, with a UTC fallback."""
    fallback = at.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(at.timestamp())}^{fmt}|{fallback}>"


def mention(user_id: str | None) -> str:
    """`<@U123>`, or a dash when nobody holds the role."""
    return f"<@{user_id}>" if user_id else "—"


def duration(seconds: float) -> str:
    """A short human duration: 45s, 12m, 3h 5m, 2d 4h."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


_SAFE_URL = re.compile(r"^https?://[^\s<>|]+$")


def link(url: str | None, label: str) -> str:
    """`<url|label>` for an http(s) URL with nothing that could break out of the link;
    otherwise just the (escaped) label."""
    shown = escape(label)
    if url and _SAFE_URL.match(url):
        return f"<{escape(url)}|{shown}>"
    return shown
