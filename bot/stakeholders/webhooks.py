"""WEBHOOKS_FILE: URLs that receive incident events as signed JSON.

```yaml
webhooks:
  - url: https://hooks.acme.example/incidents
    secret: "a long random string shared with the receiver"
    events: [declared, resolved]      # optional; default: every event
```
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from yaml.nodes import Node

from bot.stakeholders.config import EVENT_TRIGGERS, Trigger, parse_trigger
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

SETTING = "WEBHOOKS_FILE"
URL_MAX = 512
SECRET_MIN = 16


@dataclass(frozen=True)
class Webhook:
    """One receiver: where, the shared secret, and which events it gets."""

    url: str
    secret: str
    events: frozenset[Trigger]
    line: int = 0

    def __repr__(self) -> str:  # never print the secret
        return f"Webhook(url={self.url!r}, events={sorted(self.events)})"


def _url(node: Node) -> str:
    url = scalar(node, "`url`")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Problem(line_of(node), f"`{url}` is not an http(s) URL")
    if len(url) > URL_MAX:
        raise Problem(line_of(node), f"a webhook URL has at most {URL_MAX} characters")
    return url


def _webhook(node: Node) -> Webhook:
    values = mapping(node, "a webhook", ("url", "secret", "events"))
    for required in ("url", "secret"):
        if required not in values:
            raise Problem(line_of(node), f"a webhook needs `{required}`")
    secret = scalar(values["secret"], "`secret`")
    if len(secret) < SECRET_MIN:
        raise Problem(
            line_of(values["secret"]),
            f"the secret is too short: use at least {SECRET_MIN} random characters",
        )
    events = (
        frozenset(t for t, _ in words(values["events"], "`events`", parse_trigger))
        if "events" in values
        else EVENT_TRIGGERS
    )
    return Webhook(url=_url(values["url"]), secret=secret, events=events, line=line_of(node))


def parse(root: Node | None) -> tuple[Webhook, ...]:
    """The webhooks of a composed file; Problem names the line of the first mistake."""
    if root is None:
        raise Problem(1, "the file is empty; it needs a `webhooks:` list")
    values = mapping(root, "the file", ("webhooks",))
    if "webhooks" not in values:
        raise Problem(line_of(root), "the file needs a `webhooks:` list")
    hooks = [_webhook(item) for item in sequence(values["webhooks"], "`webhooks`")]
    seen: dict[str, int] = {}
    for hook in hooks:
        if hook.url in seen:
            raise Problem(hook.line, f"{hook.url} is listed twice (line {seen[hook.url]})")
        seen[hook.url] = hook.line
    return tuple(hooks)


def load(path: str | Path) -> tuple[Webhook, ...]:
    """Read and check WEBHOOKS_FILE; ConfigError names the line and the reason."""
    root = read_root(path, SETTING)
    try:
        return parse(root)
    except Problem as problem:
        raise fail(SETTING, path, problem) from None
