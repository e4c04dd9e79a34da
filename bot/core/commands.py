"""The `/incident` sub-commands: their catalogue, parsing and "did you mean" suggestions."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from bot.core.errors import InvalidInput


@dataclass(frozen=True)
class Subcommand:
    """One `/incident` sub-command as the help lists it."""

    name: str
    usage: str
    summary: str
    needs_incident_channel: bool = False


CATALOGUE: tuple[Subcommand, ...] = (
    Subcommand("declare", "/incident declare [title]", "Declare an incident (opens a form)."),
    Subcommand("update", "/incident update [text]", "Post a status update (opens a form).", True),
    Subcommand(
        "status",
        "/incident status <investigating|identified|monitoring|resolved>",
        "Change the incident's status.",
        True,
    ),
    Subcommand("severity", "/incident severity <sev1-sev4>", "Change the severity.", True),
    Subcommand("manager", "/incident manager @user", "Make someone the incident manager.", True),
    Subcommand(
        "role",
        "/incident role <manager|comms|scribe> @user",
        "Give someone a role in the incident.",
        True,
    ),
    Subcommand("resolve", "/incident resolve", "Resolve the incident (asks how).", True),
    Subcommand("note", "/incident note <text>", "Add a note to the timeline.", True),
    Subcommand("timeline", "/incident timeline", "Show the incident's timeline.", True),
    Subcommand(
        "postmortem",
        "/incident postmortem",
        "Draft (or re-post) the post-mortem and edit its sections.",
        True,
    ),
    Subcommand(
        "action",
        "/incident action <text> [@owner] [due YYYY-MM-DD]",
        "Create an action item.",
        True,
    ),
    Subcommand(
        "actions",
        "/incident actions [mine]",
        "List this incident's action items (mine: yours, everywhere).",
    ),
    Subcommand(
        "notify",
        "/incident notify <group> [message]",
        "Tell a stakeholder group about the incident now.",
        True,
    ),
    Subcommand(
        "comms",
        "/incident comms",
        "Who was told what, when and how, and whether it arrived.",
        True,
    ),
    Subcommand(
        "statuspage",
        "/incident statuspage [message]",
        "Publish on the status page (no message: a form with title and components).",
        True,
    ),
    Subcommand(
        "maintenance", "/incident maintenance", "Schedule maintenance on the status page (a form)."
    ),
    Subcommand(
        "component",
        "/incident component <name> <status>",
        "Set a status page component's status without an incident.",
    ),
    Subcommand(
        "drill",
        "/incident drill [scenario|list|end]",
        "Start a practice incident (a scenario plays a game day); end: score it.",
    ),
    Subcommand(
        "tag",
        "/incident tag [tag...]",
        "Tag the incident (no tags: show its tags); the console filters by tag.",
        True,
    ),
    Subcommand("untag", "/incident untag <tag...>", "Take tags off the incident.", True),
    Subcommand("oncall", "/incident oncall", "Who is on call now, for each escalation policy."),
    Subcommand("list", "/incident list [all]", "List open incidents (all: resolved too)."),
    Subcommand(
        "stats",
        "/incident stats [30d|90d]",
        "Time to acknowledge, identify, mitigate and resolve (medians, p90), by severity.",
    ),
    Subcommand(
        "admin",
        "/incident admin deliveries",
        "Deliveries that failed or wait, with a Retry button (admins).",
    ),
    Subcommand("help", "/incident help", "Show this list of commands."),
)


def catalogue() -> tuple[Subcommand, ...]:
    """Every sub-command, in the order the help shows them."""
    return CATALOGUE


def find(name: str) -> Subcommand | None:
    """The sub-command called `name`, if there is one."""
    return next((sub for sub in CATALOGUE if sub.name == name), None)


def split(text: str) -> tuple[str, str]:
    """Split command text into a lowercase sub-command name and the rest ('' means help)."""
    stripped = (text or "").strip()
    if not stripped:
        return "help", ""
    head, _, rest = stripped.partition(" ")
    return head.lower(), rest.strip()


def suggest(name: str) -> str | None:
    """The closest sub-command name to a mistyped one, or None when nothing is close."""
    names = [sub.name for sub in CATALOGUE]
    prefixed = [n for n in names if name and n.startswith(name)]
    if len(prefixed) == 1:
        return prefixed[0]
    matches = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return matches[0] if matches else None


_USER_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")


def parse_user(text: str, *, example: str) -> str:
    """The user id of an escaped mention like `<@U123|bob>`, or InvalidInput."""
    token = text.strip()
    match = _USER_MENTION.match(token)
    if match is None:
        shown = token or "(nothing)"
        raise InvalidInput(
            f"`{shown}` is not a Slack user. Mention a person, for example `{example}`."
        )
    return match.group(1)
