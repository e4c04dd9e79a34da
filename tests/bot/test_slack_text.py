"""Slack markup made readable for the timeline."""

from __future__ import annotations

import pytest

from bot.core.slack_text import escape, mentioned_users, render

NAMES = {"U1": "Alice Archer", "U2": "Bob"}


@pytest.mark.parametrize(
    ("raw", "readable"),
    [
        ("hi <@U1>", "hi @Alice Archer"),
        ("hi <@U9|carol>", "hi @carol"),
        ("hi <@U9>", "hi @U9"),
        ("in <#C1|ops> and <#C2>", "in #ops and #C2"),
        ("<!here> <!channel> <!everyone>", "@here @channel @everyone"),
        ("ping <!subteam^S1|@oncall>", "ping @oncall"),
        ("see <https://x.io/a?b=1&amp;c=2|the graph>", "see the graph (https://x.io/a?b=1&c=2)"),
        ("see <https://x.io>", "see https://x.io"),
        ("mail <mailto:a@b.io|a@b.io>", "mail a@b.io"),
        ("at <!date^1772373600^{date}|Mar 1>", "at Mar 1"),
        ("at <!date^1772373600^{date}>", "at 2026-03-01 14:00 UTC"),
        ("a &lt; b &amp;&amp; c &gt; d", "a < b && c > d"),
        ("", ""),
    ],
)
def test_render(raw: str, readable: str) -> None:
    assert render(raw, user_name=NAMES.get) == readable


def test_channel_names_can_be_looked_up() -> None:
    assert render("<#C2>", channel_name={"C2": "db"}.get) == "#db"


def test_mentioned_users_in_order_without_repeats() -> None:
    assert mentioned_users("<@U2> <@U1|a> <@U2> <@W3>") == ["U2", "U1", "W3"]


def test_escape_for_mrkdwn() -> None:
    assert escape("a<b>&c") == "a&lt;b&gt;&amp;c"
