"""STAKEHOLDERS_FILE: the groups told about incidents, by power and interest.

Each group sits in one quadrant of the power/interest grid, which decides what it gets by
default (`DEFAULT_RULES`); a group's `notify` list replaces that default. Optional
`severities` and `components` limit the incidents a group hears about. Every problem in the
file stops start-up with its line number and the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from yaml.nodes import Node

from bot.core.errors import InvalidInput
from bot.core.vocabulary import Severity, parse_severity
from bot.stakeholders.yamlfile import (
    Problem,
    fail,
    line_of,
    mapping,
    read_root,
    scalar,
    sequence,
    words,
)

SETTING = "STAKEHOLDERS_FILE"
NAME_MAX = 80
EMAIL_MAX = 254

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
_SLACK_GROUP = re.compile(r"^S[A-Z0-9]{2,}$")


class Quadrant(StrEnum):
    """Where a group sits on the power/interest grid."""

    MANAGE_CLOSELY = "manage_closely"  # high power, high interest
    KEEP_SATISFIED = "keep_satisfied"  # high power, low interest
    KEEP_INFORMED = "keep_informed"  # low power, high interest
    MONITOR = "monitor"  # low power, low interest


class Trigger(StrEnum):
    """What a notice is about."""

    DECLARED = "declared"
    UPDATE = "update"
    SEVERITY_CHANGED = "severity_changed"
    RESOLVED = "resolved"
    MANUAL = "manual"  # someone asked: /incident notify, the checklist's "Email the managers"

    @property
    def label(self) -> str:
        """How people read it."""
        return TRIGGER_LABELS[self]


TRIGGER_LABELS = {
    Trigger.DECLARED: "Declared",
    Trigger.UPDATE: "Update",
    Trigger.SEVERITY_CHANGED: "Severity changed",
    Trigger.RESOLVED: "Resolved",
    Trigger.MANUAL: "Message",
}
EVENT_TRIGGERS = frozenset(t for t in Trigger if t is not Trigger.MANUAL)


class Via(StrEnum):
    """How a group member is reached."""

    SLACK = "slack"  # a direct message (user groups are expanded to their members)
    INVITE = "invite"  # invited to the incident's channel
    EMAIL = "email"
    SMS = "sms"


@dataclass(frozen=True)
class Rule:
    """Send over `via` on these triggers, optionally only at these severities."""

    via: Via
    on: frozenset[Trigger]
    severities: frozenset[Severity] | None = None

    def applies(self, trigger: Trigger, severity: Severity) -> bool:
        """True when this rule sends something for `trigger` at `severity`."""
        if trigger not in self.on:
            return False
        return self.severities is None or severity in self.severities


_ALL = EVENT_TRIGGERS
_BIG = frozenset({Trigger.DECLARED, Trigger.SEVERITY_CHANGED, Trigger.RESOLVED})
_ENDS = frozenset({Trigger.DECLARED, Trigger.RESOLVED})

DEFAULT_RULES: dict[Quadrant, tuple[Rule, ...]] = {
    Quadrant.MANAGE_CLOSELY: (
        Rule(Via.INVITE, frozenset({Trigger.DECLARED})),
        Rule(Via.SLACK, _ALL),
        Rule(Via.EMAIL, _ALL),
        Rule(Via.SMS, _ALL, frozenset({Severity.SEV1})),
    ),
    Quadrant.KEEP_SATISFIED: (Rule(Via.SLACK, _BIG), Rule(Via.EMAIL, _BIG)),
    Quadrant.KEEP_INFORMED: (Rule(Via.EMAIL, _ENDS),),
    Quadrant.MONITOR: (),
}


@dataclass(frozen=True)
class Member:
    """One person (reachable one or more ways), or one Slack user group."""

    name: str | None = None
    slack: str | None = None
    slack_group: str | None = None
    email: str | None = None
    phone: str | None = None

    def address(self, via: Via) -> str | None:
        """Where `via` reaches this member, if it can."""
        if via in (Via.SLACK, Via.INVITE):
            return self.slack or self.slack_group
        if via is Via.EMAIL:
            return self.email
        return self.phone


@dataclass(frozen=True)
class Group:
    """A named set of stakeholders, its quadrant, its filters and its rules."""

    name: str
    quadrant: Quadrant
    members: tuple[Member, ...]
    rules: tuple[Rule, ...]
    severities: frozenset[Severity] | None = None
    components: frozenset[str] | None = None
    custom_rules: bool = False
    line: int = 0

    def concerns(self, severity: Severity, components: frozenset[str]) -> bool:
        """True when an incident of this severity and these components is this group's.

        An incident that names no components may affect any of them, so it concerns groups
        limited to components too.
        """
        if self.severities is not None and severity not in self.severities:
            return False
        if self.components is None or not components:
            return True
        wanted = {c.lower() for c in self.components}
        return any(c.lower() in wanted for c in components)

    def vias(self, trigger: Trigger, severity: Severity) -> list[Via]:
        """The channels this group is reached over for `trigger` at `severity`."""
        return list(dict.fromkeys(r.via for r in self.rules if r.applies(trigger, severity)))

    def manual_vias(self) -> list[Via]:
        """Channels for a notice someone asks for: the group's own, or Slack and e-mail."""
        found = [r.via for r in self.rules if r.via is not Via.INVITE]
        return list(dict.fromkeys(found)) or [Via.SLACK, Via.EMAIL]

    def addresses(self, via: Via) -> list[str]:
        """Every distinct address `via` reaches in this group, in file order."""
        found = (m.address(via) for m in self.members)
        return list(dict.fromkeys(a for a in found if a))

    @property
    def slug(self) -> str:
        """The name as one word, for commands: `Product team` -> `product-team`."""
        return slug(self.name)


def slug(name: str) -> str:
    """Lower case with dashes for spaces."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


@dataclass(frozen=True)
class Directory:
    """Every configured group (empty when STAKEHOLDERS_FILE is not set)."""

    groups: tuple[Group, ...] = ()
    path: str = ""
    _by_slug: dict[str, Group] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for group in self.groups:
            self._by_slug[group.slug] = group

    def group(self, name: str) -> Group:
        """The group named `name` (any case, spaces or dashes), or InvalidInput listing them."""
        found = self._by_slug.get(slug(name))
        if found is None:
            names = ", ".join(f"`{g.slug}`" for g in self.groups) or "none are configured"
            raise InvalidInput(f"There is no stakeholder group `{name}`. Groups: {names}.")
        return found

    def split_group(self, text: str) -> tuple[Group, str]:
        """The group a command's text starts with (longest name first) and the rest."""
        words_ = text.split()
        for size in range(len(words_), 0, -1):
            found = self._by_slug.get(slug(" ".join(words_[:size])))
            if found is not None:
                return found, " ".join(words_[size:])
        return self.group(words_[0] if words_ else ""), ""

    def in_quadrants(self, *quadrants: Quadrant) -> list[Group]:
        """The groups of these quadrants, in file order."""
        return [g for g in self.groups if g.quadrant in quadrants]


# -- parsing -------------------------------------------------------------------------------


def _email(text: str) -> str:
    if len(text) > EMAIL_MAX or not _EMAIL.match(text):
        raise ValueError(f"`{text}` is not an e-mail address like name@example.com")
    return text.lower()  # one person, however the address is capitalised


def _phone(text: str) -> str:
    compact = re.sub(r"[\s().-]", "", text)
    if not _E164.match(compact):
        raise ValueError(
            f"`{text}` is not an E.164 phone number: a + then the country code and number, "
            'up to 15 digits, like "+15551230000"'
        )
    return compact


def _slack_user(text: str) -> str:
    if not _SLACK_USER.match(text):
        raise ValueError(f"`{text}` is not a Slack user id like U012AB3CD")
    return text


def _slack_group(text: str) -> str:
    if not _SLACK_GROUP.match(text):
        raise ValueError(f"`{text}` is not a Slack user group id like S0123ABCD")
    return text


def _severity(text: str) -> Severity:
    try:
        return parse_severity(text)
    except InvalidInput as exc:
        raise ValueError(str(exc).replace("`", "")) from None


def parse_trigger(text: str) -> Trigger:
    """An incident event name (declared, update, severity_changed, resolved)."""
    value = text.lower()
    if value in EVENT_TRIGGERS:
        return Trigger(value)
    raise ValueError(f"`{text}` is not an incident event; use: {', '.join(sorted(EVENT_TRIGGERS))}")


_PARSERS = {"slack": _slack_user, "slack_group": _slack_group, "email": _email, "phone": _phone}


def _member(node: Node) -> Member:
    values = mapping(node, "a member", ("name", *_PARSERS))
    found: dict[str, str] = {}
    for key, parse in _PARSERS.items():
        if key in values:
            try:
                found[key] = parse(scalar(values[key], f"`{key}`"))
            except ValueError as exc:
                raise Problem(line_of(values[key]), str(exc)) from None
    if not found:
        raise Problem(line_of(node), "a member needs one of: slack, slack_group, email, phone")
    if "slack_group" in found and len(found) > 1:
        raise Problem(line_of(node), "a slack_group is a member on its own; list people apart")
    name = scalar(values["name"], "`name`") if "name" in values else None
    return Member(name=name, **found)


def _rule(node: Node) -> Rule:
    values = mapping(node, "a notify rule", ("via", "on", "severities"))
    if "via" not in values:
        raise Problem(line_of(node), "a notify rule needs `via`: slack, invite, email or sms")
    via_text = scalar(values["via"], "`via`")
    try:
        via = Via(via_text.lower())
    except ValueError:
        raise Problem(
            line_of(values["via"]),
            f"`{via_text}` is not a channel; use one of: {', '.join(v.value for v in Via)}",
        ) from None
    on = (
        frozenset(t for t, _ in words(values["on"], "`on`", parse_trigger))
        if "on" in values
        else EVENT_TRIGGERS
    )
    severities = (
        frozenset(s for s, _ in words(values["severities"], "`severities`", _severity))
        if "severities" in values
        else None
    )
    return Rule(via=via, on=on, severities=severities)


GROUP_KEYS = ("name", "quadrant", "severities", "components", "notify", "members")


def _group(node: Node) -> Group:
    values = mapping(node, "a group", GROUP_KEYS)
    for required in ("name", "quadrant", "members"):
        if required not in values:
            raise Problem(line_of(node), f"a group needs `{required}`")
    name = scalar(values["name"], "`name`")
    if len(name) > NAME_MAX or not slug(name):
        raise Problem(
            line_of(values["name"]), f"a group name has letters or digits, at most {NAME_MAX}"
        )
    quadrant_text = scalar(values["quadrant"], "`quadrant`")
    try:
        quadrant = Quadrant(quadrant_text.lower())
    except ValueError:
        raise Problem(
            line_of(values["quadrant"]),
            f"`{quadrant_text}` is not a quadrant; use one of: "
            + ", ".join(q.value for q in Quadrant),
        ) from None
    severities = (
        frozenset(s for s, _ in words(values["severities"], "`severities`", _severity))
        if "severities" in values
        else None
    )
    components = (
        frozenset(c for c, _ in words(values["components"], "`components`", str))
        if "components" in values
        else None
    )
    custom = "notify" in values
    rules = (
        tuple(_rule(item) for item in sequence(values["notify"], "`notify`"))
        if custom
        else DEFAULT_RULES[quadrant]
    )
    members = tuple(
        _member(item) for item in sequence(values["members"], "`members`", allow_empty=False)
    )
    return Group(
        name=name,
        quadrant=quadrant,
        members=members,
        rules=rules,
        severities=severities,
        components=components,
        custom_rules=custom,
        line=line_of(node),
    )


def parse(root: Node | None) -> tuple[Group, ...]:
    """The groups of a composed file; Problem names the line of the first mistake."""
    if root is None:
        raise Problem(1, "the file is empty; it needs a `groups:` list")
    values = mapping(root, "the file", ("groups",))
    if "groups" not in values:
        raise Problem(line_of(root), "the file needs a `groups:` list")
    groups: list[Group] = []
    seen: dict[str, int] = {}
    for item in sequence(values["groups"], "`groups`"):
        group = _group(item)
        if group.slug in seen:
            raise Problem(
                group.line, f"the group `{group.name}` is named twice (line {seen[group.slug]})"
            )
        seen[group.slug] = group.line
        groups.append(group)
    return tuple(groups)


def load(path: str | Path) -> Directory:
    """Read and check STAKEHOLDERS_FILE; ConfigError names the line and the reason."""
    root = read_root(path, SETTING)
    try:
        groups = parse(root)
    except Problem as problem:
        raise fail(SETTING, path, problem) from None
    return Directory(groups=groups, path=str(path))
