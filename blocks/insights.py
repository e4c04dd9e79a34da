"""Insights in Slack: `/incident stats`, the App Home and the weekly digest.

The Home tab may hold 100 blocks; `home_view` spends at most `HOME_BLOCKS` of them, whatever
the number of incidents, action items and post-mortems (each list is capped and says how
many more there are).
"""

from __future__ import annotations

from datetime import date, datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from blocks.ids import Action
from blocks.incident import SEVERITY_EMOJI, headline
from blocks.listing import incident_line
from blocks.text import truncate
from bot.core.slack_text import escape
from bot.core.vocabulary import Severity
from bot.insights.figures import DETECT_NOTE, MEASURES, Figures
from bot.insights.readiness import Habit
from bot.library import HomeLists
from bot.postmortems.docs import duration

HOME_BLOCKS = 100
LIST_ROWS = 15  # per list on the Home tab


def _md(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=truncate(text, 3000)))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=truncate(text, 3000))])


def figures_text(found: Figures) -> str:
    """The measures, one line each: median, p90, how many incidents."""
    lines = []
    for name, stat in found.measures.items():
        label = MEASURES[name][0]
        if stat.count:
            lines.append(
                f"*{label}*: median {duration(stat.median)}, p90 {duration(stat.p90)} "
                f"({stat.count} incidents)"
            )
        elif name == "detect":
            lines.append(f"*{label}*: no incident was linked to alerts")
        else:
            lines.append(f"*{label}*: no incident reached this yet")
    return "\n".join(lines)


def severity_text(found: Figures) -> str:
    """Incidents by severity, and how long resolving them took."""
    parts = []
    for sev, count in found.by_severity.items():
        stat = found.resolve_by_severity.get(sev)
        resolve = f", median to resolve {duration(stat.median)}" if stat and stat.count else ""
        parts.append(f"{SEVERITY_EMOJI[Severity(sev)]} {Severity(sev).label}: {count}{resolve}")
    return "\n".join(parts)


def habit_mark(habit: Habit) -> str:
    """:white_check_mark: kept, :warning: not yet, :heavy_minus_sign: nothing to measure."""
    if habit.kept is None:
        return ":heavy_minus_sign:"
    return ":white_check_mark:" if habit.kept else ":warning:"


def readiness_text(habits: list[Habit]) -> str:
    """One line per habit (what was measured), and its suggestion in italics."""
    return "\n".join(
        f"{habit_mark(h)} *{escape(h.title)}*: {escape(h.figure)}\n      _{escape(h.suggestion)}_"
        for h in habits
    )


def stats_blocks(found: Figures, habits: list[Habit] | None = None) -> list[Block]:
    """The `/incident stats` answer."""
    return [
        HeaderBlock(text=f"Incidents in the last {found.days} days"),
        _md(f"*{found.total}* declared, *{found.open_now}* open now."),
        _md(figures_text(found)),
        _md(severity_text(found)),
        *([_md("*Readiness*\n" + readiness_text(habits))] if habits else []),
        _context(DETECT_NOTE + " Private incidents count only for members of their channel."),
    ]


def stats_text(found: Figures) -> str:
    """The notification text of the `/incident stats` answer."""
    return f"{found.total} incidents in the last {found.days} days"


def _capped(
    title: str, lines: list[str], total: int, empty: str, more_hint: str, rows: int = LIST_ROWS
) -> list[Block]:
    blocks: list[Block] = [_md(f"*{title}* ({total})")]
    if not lines:
        blocks.append(_context(empty))
        return blocks
    blocks += [_md(line) for line in lines[:rows]]
    if total > rows:
        blocks.append(_context(f"…and {total - rows} more. {more_hint}"))
    return blocks


def home_view(
    data: HomeLists,
    found: Figures,
    *,
    now: datetime,
    today: date,
    console_url: str = "",
    habits: list[Habit] | None = None,
) -> View:
    """The App Home: Declare, open incidents, my roles, my action items, overdue
    post-mortems, the last 30 days' figures and readiness, in at most 100 blocks."""
    console = f" <{console_url}/console|Open the console>." if console_url else ""
    blocks: list[Block] = [
        HeaderBlock(text="Incidents"),
        ActionsBlock(
            elements=[
                ButtonElement(
                    text="Declare incident", action_id=Action.HOME_DECLARE, style="danger"
                )
            ]
        ),
        DividerBlock(),
    ]
    blocks += _capped(
        "Open incidents",
        [incident_line(v, now=now) for v in data.open_incidents],
        data.open_count,
        "No open incidents. :tada:",
        "`/incident list` shows them all.",
    )
    blocks.append(DividerBlock())
    blocks += _capped(
        "My roles",
        [
            f"{role.label} of *{escape(headline(v))}*"
            + (f" · <#{v.incident.channel_id}>" if v.incident.channel_id else "")
            for v, role in data.my_roles
        ],
        data.my_roles_count,
        "You hold no role in an open incident.",
        "`/incident list` shows every open incident.",
        rows=10,
    )
    blocks.append(DividerBlock())
    blocks += _capped(
        "My action items",
        [
            f"{escape(truncate(item.text, 200))} · #{inc.number}"
            + (
                f" · due {item.due_on.isoformat()}"
                + (" :warning: overdue" if item.due_on < today else "")
                if item.due_on
                else ""
            )
            for item, inc in data.my_items
        ],
        data.my_items_count,
        "No open action items for you.",
        "`/incident actions mine` lists them all.",
        rows=10,
    )
    blocks.append(DividerBlock())
    blocks += _capped(
        "Overdue post-mortems",
        [
            f"*#{inc.number} {escape(inc.title)}* · due "
            + (pm.due_on.isoformat() if pm.due_on else "—")
            + (f" · <@{pm.owner}>" if pm.owner else "")
            for pm, inc in data.overdue
        ],
        data.overdue_count,
        "No overdue post-mortems. :white_check_mark:",
        "The console lists them all." + console,
        rows=10,
    )
    blocks.append(DividerBlock())
    blocks += [
        _md(f"*Last {found.days} days*: {found.total} incidents declared"),
        _md(figures_text(found)),
        _md(severity_text(found)),
        _context(DETECT_NOTE + console),
    ]
    if habits:
        blocks += [
            DividerBlock(),
            _md(f"*Readiness* (last {found.days} days)\n" + readiness_text(habits)),
        ]
    assert len(blocks) <= HOME_BLOCKS, len(blocks)
    return View(type="home", blocks=blocks)


def digest_blocks(found: Figures, *, console_url: str = "") -> list[Block]:
    """The weekly digest posted to the broadcast channel (public incidents only)."""
    blocks: list[Block] = [
        HeaderBlock(text="Weekly incident digest"),
        _md(
            f"*{found.total}* incidents declared in the last {found.days} days; "
            f"*{found.open_now}* open now."
        ),
        _md(figures_text(found)),
        _md(severity_text(found)),
    ]
    note = DETECT_NOTE + " Private incidents are not included."
    if console_url:
        note += f" <{console_url}/console/insights|More in the console>."
    blocks.append(_context(note))
    return blocks


def digest_text(found: Figures) -> str:
    """The digest's notification text."""
    return f"Weekly incident digest: {found.total} incidents in the last {found.days} days"
