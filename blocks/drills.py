"""Drill messages: a scenario's steps as they play, the score at the end, the command's answers.

Scenario text comes from the operator's YAML files and the score's title from whoever declared
the drill: both are escaped like anything typed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from blocks.text import HEADER_MAX, SECTION_MAX, duration, escape, truncate
from bot.drills import Score
from bot.drills.claims import Play
from bot.drills.scenario import Kind, Scenario

DRILL_MARK = ":performing_arts: DRILL"
KEY_PREFIX = "drill_step:"


def key_block_id(key: str) -> str:
    """The block id that carries a step's key (a look-up after a crash finds it)."""
    return f"{KEY_PREFIX}{key}"


def key_of(message: dict[str, Any]) -> str | None:
    """The step key a posted message carries, if it is a drill step."""
    for block in message.get("blocks") or []:
        block_id = str(block.get("block_id") or "") if isinstance(block, dict) else ""
        if block_id.startswith(KEY_PREFIX):
            return block_id.removeprefix(KEY_PREFIX)
    return None


def step_text(play: Play) -> str:
    """A step's fallback text (mrkdwn: escaped)."""
    if play.kind is Kind.ALERT:
        return f"[drill] Alert firing: {escape(play.subject)}: {escape(play.text)}"
    if play.kind is Kind.COMPONENT:
        return f"[drill] {escape(play.subject)} is degraded: {escape(play.text)}"
    return f"[drill] {escape(play.text)}"


def step_blocks(play: Play) -> list[Block]:
    """A step as posted in the drill channel, under the simulated speaker's name."""
    if play.kind is Kind.ALERT:
        body = f":fire: *Alert firing: {escape(play.subject)}*\n{escape(play.text)}"
        note = "Simulated alert: it fired into this drill only; nobody was paged."
    elif play.kind is Kind.COMPONENT:
        body = f":large_yellow_circle: *{escape(play.subject)}* is degraded\n{escape(play.text)}"
        note = "Simulated signal: the status page does not change during a drill."
    elif play.kind is Kind.STAKEHOLDER:
        body = escape(play.text)
        note = "A simulated stakeholder asks for news. Answer here as you would for real."
    else:
        body = escape(play.text)
        note = "A simulated colleague."
    return [
        SectionBlock(text=truncate(body, SECTION_MAX), block_id=key_block_id(play.key)),
        ContextBlock(elements=[MarkdownTextObject(text=f"{DRILL_MARK} · {note}")]),
    ]


def _time(seconds: float | None) -> str:
    return duration(seconds) if seconds is not None else "not done"


def score_text(score: Score) -> str:
    """The score's fallback text."""
    return f"Drill #{score.number} is over: {escape(score.title)}. Here is how it went."


def score_blocks(score: Score) -> list[Block]:
    """The score posted in the drill channel when the drill ends."""
    tick = {True: ":white_check_mark:", False: ":x:"}
    if score.interval is None:
        cadence = f"{score.updates} update(s); no update cadence is set for this severity"
    else:
        cadence = (
            f"{score.on_cadence} of {score.gaps} intervals within "
            f"{duration(score.interval)} ({score.updates} update(s))"
        )
    lines = [
        f"{tick[score.acknowledge is not None]} *Time to acknowledge:* {_time(score.acknowledge)}",
        f"{tick[score.manager is not None]} *Time to name an incident manager:* "
        f"{_time(score.manager)}",
        f"{tick[score.first_update is not None]} *Time to first update:* "
        f"{_time(score.first_update)}",
        f"{tick[score.statuspage is not None]} *Time to status page update* (recorded, never "
        f"published): {_time(score.statuspage)}",
        f"{tick[score.gaps > 0 and score.on_cadence == score.gaps]} *Updates on cadence:* "
        f"{cadence}",
        f"{tick[score.postmortem]} *Post-mortem started:* {'yes' if score.postmortem else 'no'}",
    ]
    about = f"Scenario `{escape(score.scenario)}`" if score.scenario else "No scenario"
    if score.duration is not None:
        about += f" · lasted {duration(score.duration)}"
    return [
        HeaderBlock(text=truncate(f"Drill score: #{score.number} {score.title}", HEADER_MAX)),
        SectionBlock(text=truncate("\n".join(lines), SECTION_MAX)),
        ContextBlock(elements=[MarkdownTextObject(text=f"{DRILL_MARK} · {about}")]),
    ]


def scenarios_text(found: Iterable[Scenario]) -> str:
    """The answer to `/incident drill` with an unknown scenario: the ones there are."""
    names = [
        f"• `{escape(s.name)}`: {escape(s.title)} ({len(s.steps)} steps)"
        for s in sorted(found, key=lambda s: s.name)
    ]
    listed = "\n".join(names) or "(none)"
    return (
        "Start a drill with `/incident drill` (no scenario) or `/incident drill &lt;scenario&gt;`. "
        f"Scenarios:\n{listed}\nEnd one from its channel with `/incident drill end`."
    )
