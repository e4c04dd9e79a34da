"""The help message stays within Block Kit limits and lists every sub-command."""

from __future__ import annotations

from blocks.help import help_blocks
from blocks.text import escape
from bot.core import commands


def test_lists_every_subcommand() -> None:
    rendered = str([b.to_dict() for b in help_blocks(commands.catalogue())])
    for sub in commands.catalogue():
        # Escaped: `<investigating|...>` would otherwise be read as a link by Slack.
        assert escape(sub.usage) in rendered
    assert "`/incident status &lt;investigating|identified|monitoring|resolved&gt;`" in rendered


def test_unknown_subcommand_note() -> None:
    blocks = help_blocks(commands.catalogue(), unknown="hlep", suggestion="help")
    first = blocks[0].to_dict()
    assert "`hlep` is not an `/incident` command" in first["text"]["text"]
    assert "Did you mean `/incident help`?" in first["text"]["text"]


def test_sections_under_limit() -> None:
    for block in help_blocks(commands.catalogue()):
        data = block.to_dict()
        if data["type"] == "section":
            assert len(data["text"]["text"]) <= 3000
