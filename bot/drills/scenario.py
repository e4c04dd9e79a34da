"""Game-day scenarios: YAML scripts of timed events that play out in a drill's channel.

A scenario file (`<name>.yml`) looks like::

    title: Primary database fails over          # the drill incident's title
    severity: sev2
    summary: What the facilitator tells the team (optional)
    steps:
      - at: 0m                                  # offset from the start of the drill
        kind: alert                             # alert | message | component | stakeholder
        name: PostgresPrimaryDown               # alert: its name; component: the component
        text: Primary db-1 stopped answering
      - at: 2m
        kind: message                           # a simulated colleague
        from: Dana (DBA)
        icon: ":floppy_disk:"
        text: Replication lag on db-2 is 40 s, I am looking

The built-in scenarios are package data (`bot/drills/scenarios/*.yml`); DRILLS_DIR, when set,
replaces them with the `*.yml` / `*.yaml` files of that folder. Everything is checked when the
bot starts: an error names the file and the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

from bot.alerts.escalation import parse_delay
from bot.alerts.yamlfile import FileError, Lines, load
from bot.core.vocabulary import Severity

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
EMOJI = re.compile(r"^:[a-z0-9_+'-]{1,60}:$")
TITLE_MAX = 150
TEXT_MAX = 2000
SPEAKER_MAX = 80
SUBJECT_MAX = 150
STEPS_MAX = 100
LONGEST = timedelta(hours=24)


class Kind(StrEnum):
    """What a step does in the drill channel."""

    ALERT = "alert"  # an alert firing (posted in the drill channel only: nobody is paged)
    MESSAGE = "message"  # a simulated colleague says something
    COMPONENT = "component"  # a component degrading (internal: the status page never hears)
    STAKEHOLDER = "stakeholder"  # a stakeholder asks for news


DEFAULT_SPEAKER = {
    Kind.ALERT: ("Alertmanager (drill)", ":rotating_light:"),
    Kind.MESSAGE: ("A colleague (drill)", ":bust_in_silhouette:"),
    Kind.COMPONENT: ("Monitoring (drill)", ":large_yellow_circle:"),
    Kind.STAKEHOLDER: ("A stakeholder (drill)", ":briefcase:"),
}
_STEP_KEYS = frozenset({"at", "kind", "name", "from", "icon", "text"})
_TOP_KEYS = frozenset({"title", "severity", "summary", "steps"})


@dataclass(frozen=True)
class Step:
    """One timed event."""

    at: timedelta
    kind: Kind
    text: str
    speaker: str
    icon: str
    subject: str = ""


@dataclass(frozen=True)
class Scenario:
    """A game day: the drill incident it declares and its script, in order of time."""

    name: str
    title: str
    severity: Severity
    summary: str
    steps: tuple[Step, ...]


def _text(data: dict[str, Any], key: str, lines: Lines, path: tuple[str | int, ...], *,
          limit: int, required: bool = False) -> str:  # fmt: skip
    value = data.get(key)
    if value is None:
        if required:
            raise lines.error((*path, key), "is required")
        return ""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise lines.error((*path, key), "must be text")
    text = str(value).strip()
    if required and not text:
        raise lines.error((*path, key), "must not be empty")
    if len(text) > limit:
        raise lines.error((*path, key), f"at most {limit} characters (it has {len(text)})")
    return text


def _step(raw: Any, index: int, lines: Lines) -> Step:
    path: tuple[str | int, ...] = ("steps", index)
    if not isinstance(raw, dict):
        raise lines.error(path, "each step is a mapping with at, kind and text")
    unknown = sorted(set(raw) - _STEP_KEYS)
    if unknown:
        raise lines.error((*path, unknown[0]), f"unknown key (use {', '.join(sorted(_STEP_KEYS))})")
    if "at" not in raw:
        raise lines.error((*path, "at"), "is required (an offset like 0m, 90s, 5m)")
    try:
        at = parse_delay(raw["at"])
    except ValueError as exc:
        raise lines.error((*path, "at"), str(exc)) from None
    if at > LONGEST:
        raise lines.error((*path, "at"), "a drill lasts at most 24h")
    try:
        kind = Kind(str(raw.get("kind", "")))
    except ValueError:
        kinds = ", ".join(k.value for k in Kind)
        raise lines.error((*path, "kind"), f"must be one of {kinds}") from None
    subject = _text(raw, "name", lines, path, limit=SUBJECT_MAX,
                    required=kind in (Kind.ALERT, Kind.COMPONENT))  # fmt: skip
    speaker = _text(raw, "from", lines, path, limit=SPEAKER_MAX) or DEFAULT_SPEAKER[kind][0]
    icon = _text(raw, "icon", lines, path, limit=62) or DEFAULT_SPEAKER[kind][1]
    if not EMOJI.match(icon):
        raise lines.error((*path, "icon"), "must be an emoji code like :robot_face:")
    text = _text(raw, "text", lines, path, limit=TEXT_MAX, required=True)
    return Step(at=at, kind=kind, text=text, speaker=speaker, icon=icon, subject=subject)


def parse(text: str, *, file: str, name: str) -> Scenario:
    """One scenario from its YAML; FileError (with the line) when something is wrong."""
    if not NAME.match(name):
        raise FileError(file, None, "the file name must be lowercase letters, digits, - or _")
    data, lines = load(text, file)
    if not isinstance(data, dict):
        raise FileError(file, None, "a scenario is a mapping with title, severity and steps")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise lines.error((unknown[0],), f"unknown key (use {', '.join(sorted(_TOP_KEYS))})")
    title = _text(data, "title", lines, (), limit=TITLE_MAX, required=True)
    try:
        severity = Severity(str(data.get("severity", "sev3")).lower())
    except ValueError:
        raise lines.error(("severity",), "must be one of sev1, sev2, sev3, sev4") from None
    summary = _text(data, "summary", lines, (), limit=TEXT_MAX)
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise lines.error(("steps",), "must be a list of at least one step")
    if len(raw_steps) > STEPS_MAX:
        raise lines.error(("steps",), f"at most {STEPS_MAX} steps")
    steps = [_step(raw, index, lines) for index, raw in enumerate(raw_steps)]
    steps.sort(key=lambda s: s.at)  # stable: steps at the same offset keep the file's order
    return Scenario(name, title, severity, summary, tuple(steps))


def load_dir(folder: str) -> dict[str, Scenario]:
    """Every scenario of a folder (DRILLS_DIR), by name; FileError on the first bad file."""
    path = Path(folder)
    if not path.is_dir():
        raise FileError(folder, None, "is not a directory")
    found: dict[str, Scenario] = {}
    files = sorted([*path.glob("*.yml"), *path.glob("*.yaml")])
    if not files:
        raise FileError(folder, None, "has no scenario files (*.yml)")
    for file in files:
        scenario = parse(file.read_text(encoding="utf-8"), file=str(file), name=file.stem)
        if scenario.name in found:
            raise FileError(str(file), None, f"a second scenario called {scenario.name}")
        found[scenario.name] = scenario
    return found


def builtin() -> dict[str, Scenario]:
    """The scenarios shipped with the bot (package data)."""
    found: dict[str, Scenario] = {}
    for entry in sorted(resources.files("bot.drills").joinpath("scenarios").iterdir(),
                        key=lambda e: e.name):  # fmt: skip
        if entry.name.endswith(".yml"):
            name = entry.name.removesuffix(".yml")
            found[name] = parse(entry.read_text(encoding="utf-8"), file=entry.name, name=name)
    return found


def available(folder: str = "") -> dict[str, Scenario]:
    """DRILLS_DIR's scenarios when it is set, else the built-in ones."""
    return load_dir(folder) if folder.strip() else builtin()
