"""The `/incident help` message."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

from blocks.text import escape
from bot.core.commands import Subcommand


def help_text(subcommands: tuple[Subcommand, ...]) -> str:
    """Plain-text fallback of the help (notifications and screen readers)."""
    return "Incident bot commands: " + ", ".join(f"`{escape(sub.usage)}`" for sub in subcommands)


def help_blocks(
    subcommands: tuple[Subcommand, ...],
    *,
    unknown: str | None = None,
    suggestion: str | None = None,
) -> list[Block]:
    """The list of sub-commands, one line each, led by a note about an unknown sub-command."""
    blocks: list[Block] = []
    if unknown is not None:
        note = f"`{escape(unknown)}` is not an `/incident` command."
        if suggestion:
            note += f" Did you mean `/incident {escape(suggestion)}`?"
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f":warning: {note}")))
    lines = [
        f"`{escape(sub.usage)}` {escape(sub.summary)}"
        + (" _(in an incident channel)_" if sub.needs_incident_channel else "")
        for sub in subcommands
    ]
    blocks.append(SectionBlock(text=MarkdownTextObject(text="*Incident bot commands*")))
    # Split into sections that stay well under Block Kit's 3,000-character section limit.
    chunk: list[str] = []
    for line in lines:
        if sum(len(part) + 1 for part in chunk) + len(line) > 2800:
            blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(chunk))))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(chunk))))
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="Commands marked _(in an incident channel)_ act on that channel's "
                    "incident; `/incident list` shows the incidents and their channels."
                )
            ]
        )
    )
    return blocks
