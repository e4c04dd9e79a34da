"""ALERT_RULES_FILE: what to do with alerts, who is on call, how to escalate, custom mappings.

    schedules:   {name: {timezone, handover, start, people: [U…], overrides: [{user, from, until}]}}
    policies:    {name: {levels: [{users: [U…] | group: S… | schedule: name, after: 10m}]}}
    rules:       [{name, match: {source, severity, labels}, then one or more of:
                   declare: sev1 | channel: "#name" or C… | ignore: true | policy: name,
                   oncall: schedule}]
    mappings:    {name: mapping template}  (bot.alerts.mapping; POST /hooks/generic/<name>)
    phones:      {U…: "+E.164"};  incidents: {policy, severities}  (bot.alerts.paging)

Rules are tried in order when a group of alerts opens; the first whose `match` fits the
group's first alert decides. A label matcher is a value (equal), a list (any of) or
`{regex: ...}` (the whole value matches). `source` and `severity` take a value or a list;
severity matches the sender's word (case-insensitive) or the SEV it maps to. The file is
checked at start-up: every problem is reported with its line and what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any, TypeVar

from bot.alerts.escalation import GROUP_ID, Level, Policy, parse_delay
from bot.alerts.mapping import BUILTIN, AlertMapping, MappingError
from bot.alerts.model import AlertIn, Source, incident_severity
from bot.alerts.oncall import (
    Override,
    Schedule,
    check_user,
    parse_date,
    parse_handover,
    parse_local_time,
    parse_zone,
)
from bot.alerts.paging import IncidentPaging, parse_incidents, parse_phones
from bot.alerts.yamlfile import FileError, Lines, Path, load
from bot.core.vocabulary import Severity

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.:/-]{0,63}$")
CHANNEL = re.compile(r"^(#[a-z0-9][a-z0-9_-]{0,79}|[CG][A-Z0-9]{2,20})$")
ACTIONS = ("declare", "channel", "ignore", "policy", "oncall")
T = TypeVar("T")


@dataclass(frozen=True)
class Matcher:
    """One label's condition: equal to one of `values`, or fully matching `pattern`."""

    values: frozenset[str] = frozenset()
    pattern: re.Pattern[str] | None = None

    def fits(self, value: str | None) -> bool:
        if value is None:
            return False
        if self.pattern is not None:
            return self.pattern.fullmatch(value) is not None
        return value in self.values


@dataclass(frozen=True)
class Rule:
    """A matcher and what to do with the groups it matches."""

    name: str
    sources: frozenset[str] = frozenset()
    severities: frozenset[str] = frozenset()
    labels: dict[str, Matcher] = field(default_factory=dict)
    declare: Severity | None = None
    channel: str | None = None
    ignore: bool = False
    policy: str | None = None
    oncall: str | None = None

    def fits(self, source: str, alert: AlertIn) -> bool:
        """True when the alert matches every condition of the rule."""
        if self.sources and source not in self.sources:
            return False
        if self.severities:
            word = (alert.severity or "").strip().lower()
            mapped = incident_severity(alert.severity)
            if word not in self.severities and (mapped is None or mapped not in self.severities):
                return False
        return all(m.fits(alert.labels.get(name)) for name, m in self.labels.items())

    @property
    def action(self) -> str | None:
        """declare, ignore, route, or None when the rule only sets a policy."""
        if self.ignore:
            return "ignore"
        if self.declare is not None:
            return "declare"
        return "route" if self.channel else None


@dataclass(frozen=True)
class AlertRules:
    """Everything in ALERT_RULES_FILE, checked."""

    rules: tuple[Rule, ...] = ()
    policies: dict[str, Policy] = field(default_factory=dict)
    schedules: dict[str, Schedule] = field(default_factory=dict)
    mappings: dict[str, AlertMapping] = field(default_factory=dict)
    phones: dict[str, str] = field(default_factory=dict)
    incidents: IncidentPaging | None = None

    def decide(self, source: str, alert: AlertIn) -> Rule | None:
        """The first rule that matches, or None."""
        return next((rule for rule in self.rules if rule.fits(source, alert)), None)

    def mapping(self, name: str) -> AlertMapping | None:
        """The file's mapping of that name, else the built-in one."""
        return self.mappings.get(name) or BUILTIN.get(name)

    def manager_schedule(self, rule: Rule) -> str | None:
        """The schedule whose on-call person manages what `rule` declares."""
        if rule.oncall:
            return rule.oncall
        policy = self.policies.get(rule.policy or "")
        return policy.first_schedule() if policy else None


EMPTY = AlertRules()


def load_rules(path: str) -> AlertRules:
    """Read and check ALERT_RULES_FILE; FileError with the line and the reason."""
    file = FilePath(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FileError(path, None, f"cannot be read: {exc}") from exc
    data, lines = load(text, path)
    return parse_rules(data, lines)


def parse_rules(data: Any, lines: Lines) -> AlertRules:
    """Check the loaded file; FileError at the first problem."""
    if data is None:
        return EMPTY
    top = _mapping(data, (), lines)
    _known(top, (), lines, ("schedules", "policies", "rules", "mappings", "phones", "incidents"))
    schedules = {
        name: _schedule(name, raw, ("schedules", name), lines)
        for name, raw in _named(top.get("schedules"), ("schedules",), lines).items()
    }
    policies = {
        name: _policy(name, raw, ("policies", name), lines, schedules)
        for name, raw in _named(top.get("policies"), ("policies",), lines).items()
    }
    raw_rules = top.get("rules") or []
    if not isinstance(raw_rules, list):
        raise lines.error(("rules",), "must be a list of rules")
    rules = tuple(
        _rule(raw, ("rules", i), lines, schedules, policies) for i, raw in enumerate(raw_rules)
    )
    names = [rule.name for rule in rules]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise lines.error(("rules", i, "name"), f"another rule is already named {name!r}")
    mappings: dict[str, AlertMapping] = {}
    for name, raw in _named(top.get("mappings"), ("mappings",), lines).items():
        spec = _mapping(raw, ("mappings", name), lines)
        try:
            mappings[name] = AlertMapping.from_dict(name, spec)
        except MappingError as exc:
            raise lines.error(("mappings", name, exc.field.split(".")[0]), str(exc)) from exc
    phones = parse_phones(top.get("phones"), lines)
    incidents = parse_incidents(top.get("incidents"), lines, policies)
    return AlertRules(rules, policies, schedules, mappings, phones, incidents)


# --- Pieces -----------------------------------------------------------------------------------


def _mapping(value: Any, path: Path, lines: Lines) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise lines.error(path, "must be a mapping (key: value lines)")
    return value


def _known(value: Mapping[str, Any], path: Path, lines: Lines, known: tuple[str, ...]) -> None:
    for name in value:
        if name not in known:
            raise lines.error((*path, name), f"unknown key (expected one of: {', '.join(known)})")


def _named(value: Any, path: Path, lines: Lines) -> dict[str, Any]:
    if value is None:
        return {}
    found = _mapping(value, path, lines)
    for name in found:
        if not NAME.match(str(name)):
            raise lines.error((*path, name), "names are letters, digits, spaces and _.:/-")
    return {str(name): raw for name, raw in found.items()}


def _checked(path: Path, lines: Lines, parse: Callable[[Any], T], value: Any) -> T:
    try:
        return parse(value)
    except ValueError as exc:
        raise lines.error(path, str(exc)) from exc


def _list(value: Any, path: Path, lines: Lines) -> list[Any]:
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return [value]
    if not isinstance(value, list) or not value:
        raise lines.error(path, "must be a value or a non-empty list")
    return value


def _schedule(name: str, raw: Any, path: Path, lines: Lines) -> Schedule:
    spec = _mapping(raw, path, lines)
    _known(spec, path, lines, ("timezone", "handover", "start", "people", "overrides"))
    for required in ("handover", "start", "people"):
        if required not in spec:
            raise lines.error(path, f"{required} is required")
    zone = _checked((*path, "timezone"), lines, parse_zone, spec.get("timezone", "UTC"))
    day, at = _checked((*path, "handover"), lines, parse_handover, spec["handover"])
    start = _checked((*path, "start"), lines, parse_date, spec["start"])
    if start.weekday() != day:
        raise lines.error(
            (*path, "start"),
            f"{start} is a {_DAYS[start.weekday()]}: start must be a handover day (a {_DAYS[day]})",
        )
    people_raw = spec["people"]
    if not isinstance(people_raw, list) or not people_raw:
        raise lines.error((*path, "people"), "must list at least one Slack user id")
    people = tuple(
        _checked((*path, "people", i), lines, check_user, person)
        for i, person in enumerate(people_raw)
    )
    overrides = []
    raw_overrides = spec.get("overrides") or []
    if not isinstance(raw_overrides, list):
        raise lines.error((*path, "overrides"), "must be a list of {user, from, until}")
    for i, item in enumerate(raw_overrides):
        where = (*path, "overrides", i)
        entry = _mapping(item, where, lines)
        _known(entry, where, lines, ("user", "from", "until"))
        for required in ("user", "from", "until"):
            if required not in entry:
                raise lines.error(where, f"{required} is required")
        user = _checked((*where, "user"), lines, check_user, entry["user"])
        begin = _checked(
            (*where, "from"), lines, lambda v: parse_local_time(v, zone), entry["from"]
        )
        end = _checked(
            (*where, "until"), lines, lambda v: parse_local_time(v, zone), entry["until"]
        )
        if end <= begin:
            raise lines.error((*where, "until"), "must be after from")
        overrides.append(Override(user, begin, end))
    return Schedule(name, people, zone, day, at, start, tuple(overrides))


_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _policy(
    name: str, raw: Any, path: Path, lines: Lines, schedules: dict[str, Schedule]
) -> Policy:
    spec = _mapping(raw, path, lines)
    _known(spec, path, lines, ("levels",))
    raw_levels = spec.get("levels")
    if not isinstance(raw_levels, list) or not raw_levels:
        raise lines.error((*path, "levels"), "must list at least one level")
    levels = []
    for i, item in enumerate(raw_levels):
        where = (*path, "levels", i)
        level = _mapping(item, where, lines)
        _known(level, where, lines, ("users", "group", "schedule", "after", "sms"))
        sms = level.get("sms", False)
        if not isinstance(sms, bool):
            raise lines.error((*where, "sms"), "must be true or false")
        targets = [key for key in ("users", "group", "schedule") if key in level]
        if len(targets) != 1:
            raise lines.error(where, "give exactly one of users, group or schedule")
        if "after" not in level and i > 0:
            raise lines.error(where, "after is required (the delay after the previous level)")
        after = _checked((*where, "after"), lines, parse_delay, level.get("after", "0m"))
        users: tuple[str, ...] = ()
        group = schedule = None
        if "users" in level:
            users = tuple(
                _checked((*where, "users", j), lines, check_user, user)
                for j, user in enumerate(_list(level["users"], (*where, "users"), lines))
            )
        elif "group" in level:
            group = str(level["group"]).strip()
            if not GROUP_ID.match(group):
                raise lines.error((*where, "group"), f"{group!r} is not a user group id (S…)")
        else:
            schedule = str(level["schedule"])
            if schedule not in schedules:
                raise lines.error((*where, "schedule"), f"no schedule named {schedule!r}")
        levels.append(Level(after, users, group, schedule, sms))
    return Policy(name, tuple(levels))


def _rule(
    raw: Any,
    path: Path,
    lines: Lines,
    schedules: dict[str, Schedule],
    policies: dict[str, Policy],
) -> Rule:
    spec = _mapping(raw, path, lines)
    _known(spec, path, lines, ("name", "match", *ACTIONS))
    name = str(spec.get("name") or "").strip()
    if not NAME.match(name):
        raise lines.error((*path, "name"), "every rule needs a name (letters, digits, _.:/- )")
    match = _mapping(spec.get("match") or {}, (*path, "match"), lines)
    _known(match, (*path, "match"), lines, ("source", "severity", "labels"))
    sources: frozenset[str] = frozenset()
    if "source" in match:
        sources = frozenset(
            str(s).lower() for s in _list(match["source"], (*path, "match", "source"), lines)
        )
        known = {source.value for source in Source}
        for source in sorted(sources):
            if source not in known:
                raise lines.error(
                    (*path, "match", "source"),
                    f"{source!r} is not a source ({', '.join(sorted(known))})",
                )
    severities: frozenset[str] = frozenset()
    if "severity" in match:
        severities = frozenset(
            str(s).strip().lower()
            for s in _list(match["severity"], (*path, "match", "severity"), lines)
        )
    labels = {
        str(label): _matcher(value, (*path, "match", "labels", str(label)), lines)
        for label, value in _mapping(
            match.get("labels") or {}, (*path, "match", "labels"), lines
        ).items()
    }
    declare = None
    if "declare" in spec:
        declare = _checked((*path, "declare"), lines, _severity, spec["declare"])
    channel = None
    if "channel" in spec:
        channel = str(spec["channel"]).strip()
        if not CHANNEL.match(channel):
            raise lines.error((*path, "channel"), f"{channel!r} is not a channel id or #name")
    ignore = spec.get("ignore", False)
    if not isinstance(ignore, bool):
        raise lines.error((*path, "ignore"), "must be true or false")
    if ignore and any(key in spec for key in ("declare", "channel", "policy", "oncall")):
        raise lines.error((*path, "ignore"), "an ignoring rule takes no other action")
    policy = spec.get("policy")
    if policy is not None and str(policy) not in policies:
        raise lines.error((*path, "policy"), f"no policy named {policy!r}")
    oncall = spec.get("oncall")
    if oncall is not None and str(oncall) not in schedules:
        raise lines.error((*path, "oncall"), f"no schedule named {oncall!r}")
    if not ignore and not any(key in spec for key in ("declare", "channel", "policy")):
        raise lines.error(path, "say what to do: declare, channel, policy or ignore")
    return Rule(
        name=name,
        sources=sources,
        severities=severities,
        labels=labels,
        declare=declare,
        channel=channel,
        ignore=ignore,
        policy=str(policy) if policy is not None else None,
        oncall=str(oncall) if oncall is not None else None,
    )


def _severity(value: Any) -> Severity:
    try:
        return Severity(str(value).strip().lower())
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a severity (sev1 … sev4)") from exc


def _matcher(value: Any, path: Path, lines: Lines) -> Matcher:
    if isinstance(value, dict):
        _known(value, path, lines, ("regex",))
        try:
            return Matcher(pattern=re.compile(str(value.get("regex", ""))))
        except re.error as exc:
            raise lines.error((*path, "regex"), f"not a valid regular expression: {exc}") from exc
    if isinstance(value, list):
        if not value or any(isinstance(v, (dict, list)) for v in value):
            raise lines.error(path, "a list of values must not be empty or nested")
        return Matcher(values=frozenset(str(v) for v in value))
    if isinstance(value, (dict, list)) or value is None:
        raise lines.error(path, "must be a value, a list of values or {regex: ...}")
    return Matcher(
        values=frozenset({str(value).lower() if isinstance(value, bool) else str(value)})
    )
