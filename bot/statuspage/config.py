"""STATUS_PAGE_FILE: the page's name, public URL and components, checked once at start-up.

```yaml
name: Acme Status
url: https://status.acme.example
components:
  - name: API
  - name: Website
    description: www and the dashboard
  - name: Card payments
    group: Payments
```

A bad file stops start-up with `file:line: reason`. Ids are stable strings derived from the
names (or given with `id:`, to keep a component's history through a rename).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

NAME_MAX = 100
PAGE_NAME_MAX = 80
COMPONENTS_MAX = 100
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
TOP_KEYS = ("name", "url", "components")
COMPONENT_KEYS = ("name", "description", "group", "id")


class StatusPageConfigError(ValueError):
    """The file is missing, not YAML, or says something invalid (message: `path:line: why`)."""


@dataclass(frozen=True)
class ComponentConfig:
    """One component as configured."""

    id: str
    name: str
    description: str
    group_id: str | None
    position: int


@dataclass(frozen=True)
class GroupConfig:
    """A group of components (Statuspage's component group)."""

    id: str
    name: str
    position: int
    component_ids: tuple[str, ...]


@dataclass(frozen=True)
class PageConfig:
    """The whole status page configuration."""

    name: str
    url: str  # without a trailing slash
    components: tuple[ComponentConfig, ...]
    groups: tuple[GroupConfig, ...]
    timezone: ZoneInfo
    page_id: str

    @property
    def time_zone_name(self) -> str:
        """The IANA name of the page's time zone."""
        return str(self.timezone.key)

    def component(self, id_: str) -> ComponentConfig | None:
        """The component with this id."""
        return next((c for c in self.components if c.id == id_), None)

    def find(self, text: str) -> ComponentConfig | None:
        """The component named `text` (any case) or with that id."""
        wanted = " ".join(text.split()).lower()
        for component in self.components:
            if component.name.lower() == wanted or component.id == wanted:
                return component
        return None

    def names(self) -> str:
        """Every component's name, for error messages."""
        return ", ".join(c.name for c in self.components)


def stable_id(kind: str, name: str) -> str:
    """A 12-character lowercase id derived from a name (like Statuspage's ids)."""
    digest = hashlib.sha256(f"{kind}:{name.strip().lower()}".encode()).digest()
    number = int.from_bytes(digest[:10], "big")
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
    chars = []
    for _ in range(12):
        number, rest = divmod(number, 36)
        chars.append(alphabet[rest])
    return "".join(chars)


def parse_timezone(name: str) -> ZoneInfo:
    """A ZoneInfo from an IANA name, or ValueError."""
    try:
        return ZoneInfo((name or "UTC").strip() or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone such as Europe/Paris") from None


class _Reader:
    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, node: yaml.Node | None, reason: str) -> StatusPageConfigError:
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        return StatusPageConfigError(f"{self.path}{line}: {reason}")

    def mapping(self, node: yaml.Node, what: str, keys: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping of keys ({', '.join(keys)})")
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key not in keys:
                raise self.fail(key_node, f"unknown key {key!r} in {what}; use {', '.join(keys)}")
            if key in out:
                raise self.fail(key_node, f"{key!r} is given twice in {what}")
            out[key] = value_node
        return out

    def text(self, node: yaml.Node, what: str, limit: int, *, required: bool = True) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag.endswith((":null", ":map", ":seq")):
            raise self.fail(node, f"{what} must be text")
        value = " ".join(str(node.value).split())
        if required and not value:
            raise self.fail(node, f"{what} must not be empty")
        if len(value) > limit:
            raise self.fail(node, f"{what} is too long ({len(value)} characters; at most {limit})")
        return value


def load_text(text: str, *, path: str, timezone: str = "UTC") -> PageConfig:
    """Parse and check the YAML of a status page file; StatusPageConfigError says where."""
    reader = _Reader(path)
    try:
        tz = parse_timezone(timezone)
    except ValueError as exc:
        raise StatusPageConfigError(f"STATUS_PAGE_TIMEZONE: {exc}") from None
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise StatusPageConfigError(f"{path}{line}: not valid YAML: {problem}") from None
    if root is None:
        raise StatusPageConfigError(f"{path}: the file is empty; give name, url and components")
    top = reader.mapping(root, "the status page file", TOP_KEYS)
    for key in TOP_KEYS:
        if key not in top:
            raise reader.fail(root, f"missing {key!r} (the file needs name, url and components)")
    name = reader.text(top["name"], "name", PAGE_NAME_MAX)
    url = reader.text(top["url"], "url", 300)
    if not _URL.match(url):
        raise reader.fail(top["url"], f"url {url!r} must be the page's http(s) address")
    components, groups = _components(reader, top["components"])
    return PageConfig(
        name=name,
        url=url.rstrip("/"),
        components=components,
        groups=groups,
        timezone=tz,
        page_id=stable_id("page", url.rstrip("/")),
    )


def _components(
    reader: _Reader, node: yaml.Node
) -> tuple[tuple[ComponentConfig, ...], tuple[GroupConfig, ...]]:
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        raise reader.fail(node, "components must be a list with at least one `- name: ...`")
    if len(node.value) > COMPONENTS_MAX:
        raise reader.fail(node, f"at most {COMPONENTS_MAX} components")
    components: list[ComponentConfig] = []
    group_order: list[str] = []
    group_members: dict[str, list[str]] = {}
    group_names: dict[str, str] = {}
    seen_names: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    for position, item in enumerate(node.value):
        fields = reader.mapping(item, "a component", COMPONENT_KEYS)
        if "name" not in fields:
            raise reader.fail(item, "a component needs a name")
        name = reader.text(fields["name"], "a component's name", NAME_MAX)
        line = fields["name"].start_mark.line + 1
        if name.lower() in seen_names:
            raise reader.fail(
                fields["name"],
                f"component {name!r} is named twice (first on line {seen_names[name.lower()]})",
            )
        seen_names[name.lower()] = line
        description = ""
        if "description" in fields:
            description = reader.text(fields["description"], "description", 500, required=False)
        if "id" in fields:
            id_ = reader.text(fields["id"], "id", 32)
            if not _ID.match(id_):
                raise reader.fail(
                    fields["id"], f"id {id_!r}: use lowercase letters, digits, - and _ (at most 32)"
                )
        else:
            id_ = stable_id("component", name)
        if id_ in seen_ids:
            raise reader.fail(item, f"id {id_!r} is used twice (first on line {seen_ids[id_]})")
        seen_ids[id_] = line
        group_id = None
        if "group" in fields:
            group = reader.text(fields["group"], "group", NAME_MAX)
            group_id = stable_id("group", group)
            if group_id not in group_members:
                group_order.append(group_id)
                group_members[group_id] = []
                group_names[group_id] = group
            group_members[group_id].append(id_)
        components.append(ComponentConfig(id_, name, description, group_id, position))
    for group_id in group_order:
        if group_names[group_id].lower() in seen_names:
            raise reader.fail(
                node, f"group {group_names[group_id]!r} has the name of a component; rename one"
            )
    groups = tuple(
        GroupConfig(
            id=group_id,
            name=group_names[group_id],
            position=min(c.position for c in components if c.group_id == group_id),
            component_ids=tuple(group_members[group_id]),
        )
        for group_id in group_order
    )
    return tuple(components), groups


def load(path: str, *, timezone: str = "UTC") -> PageConfig:
    """Read and check STATUS_PAGE_FILE."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StatusPageConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StatusPageConfigError(f"{path}: cannot be read ({exc})") from None
    return load_text(text, path=path, timezone=timezone)


@lru_cache(maxsize=8)
def cached(path: str, timezone: str) -> PageConfig:
    """`load`, once per (path, time zone) in a process (the file is read at start-up)."""
    return load(path, timezone=timezone)
