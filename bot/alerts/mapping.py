"""Mapping templates: JSON (or form fields) from any tool turned into alerts.

A mapping says, for one tool, where each field of an alert is in the tool's payload. Each
value is a template: text with `{path}` placeholders, where a path is dotted keys and list
indexes (`{event.tags.0}`), `{a|b}` takes the first of `a`, `b` that is not empty, and `{{`
and `}}` are literal braces. A list of plain values reads as their comma-separated text.

    id:            required; the alert's fingerprint: the same id is the same alert
    title:         required; one line
    group:         alerts with the same group share a triage message (default: the id)
    state:         the text that says whether it fires; compared with `resolved_when`
    resolved_when: state values (case-insensitive) that mean resolved
    severity:      the tool's word (critical, P1, Disaster ...); `severities` can rename it
    severities:    {tool word: our word}, e.g. {AVAILABILITY: critical}
    description, link, started_at:  optional text, URL and time
    labels:        {name: template} shown with the alert and matched by rules
    labels_from:   a path to an object whose values become labels too

The built-in mappings (`BUILTIN`) are the ones the README gives for each tool.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.alerts.model import (
    TEXT_MAX,
    VALUE_MAX,
    AlertIn,
    AlertState,
    Batch,
    MalformedPayload,
    Source,
    clip,
    key,
    links_of,
    one_line,
    parse_time,
    require_object,
    string_map,
)

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_PATH = re.compile(r"^[A-Za-z0-9_$@-]+(\.[A-Za-z0-9_$@-]+)*$")
FIELDS = {
    "id",
    "title",
    "group",
    "state",
    "resolved_when",
    "severity",
    "severities",
    "description",
    "link",
    "started_at",
    "labels",
    "labels_from",
}
TEMPLATE_FIELDS = ("id", "title", "group", "state", "severity", "description", "link", "started_at")


class MappingError(ValueError):
    """A mapping that cannot work; `field` names the part that is wrong."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


def check_template(template: str, field_name: str) -> list[str]:
    """The paths a template reads; MappingError when a placeholder is not a path."""
    paths: list[str] = []
    rest = _PLACEHOLDER.sub("", template)
    if "{" in rest or "}" in rest:
        raise MappingError(field_name, f"unbalanced brace in {template!r} (write {{{{ for {{)")
    for match in _PLACEHOLDER.finditer(template):
        inner = match.group(1)
        if inner is None:
            continue
        for path in inner.split("|"):
            if not _PATH.match(path.strip()):
                raise MappingError(field_name, f"{{{inner}}} is not a path like {{alert.title}}")
            paths.append(path.strip())
    return paths


def lookup(payload: Any, path: str) -> Any:
    """The value at a dotted path (list items by index), or None."""
    value = payload
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _text(value: Any) -> str:
    if value is None or isinstance(value, dict):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(_text(item) for item in value if not isinstance(item, (dict, list)))
    return str(value)


def render(template: str, payload: Any) -> str:
    """The template with every placeholder replaced by the payload's text there."""

    def replace(match: re.Match[str]) -> str:
        whole, inner = match.group(0), match.group(1)
        if inner is None:
            return whole[0]
        for path in inner.split("|"):
            text = _text(lookup(payload, path.strip())).strip()
            if text:
                return text
        return ""

    return _PLACEHOLDER.sub(replace, template)


@dataclass(frozen=True)
class AlertMapping:
    """A checked mapping template (see the module's docstring)."""

    name: str
    id: str
    title: str
    group: str = ""
    state: str = ""
    resolved_when: frozenset[str] = frozenset()
    severity: str = ""
    severities: dict[str, str] = field(default_factory=dict)
    description: str = ""
    link: str = ""
    started_at: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    labels_from: str = ""

    @classmethod
    def from_dict(cls, name: str, raw: Mapping[str, Any]) -> AlertMapping:
        """Check a mapping read from YAML; MappingError names the bad field."""
        unknown = sorted(set(raw) - FIELDS)
        if unknown:
            raise MappingError(unknown[0], f"unknown field (known: {', '.join(sorted(FIELDS))})")
        values: dict[str, Any] = {}
        for name_ in TEMPLATE_FIELDS:
            value = raw.get(name_, "")
            if value is None:
                value = ""
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise MappingError(name_, "must be a template string")
            values[name_] = str(value)
            check_template(values[name_], name_)
        for required in ("id", "title"):
            if not values[required].strip():
                raise MappingError(required, "is required")
        if not check_template(values["id"], "id"):
            raise MappingError("id", "must read the payload, like {incident_id}")
        resolved = raw.get("resolved_when", [])
        if isinstance(resolved, str):
            resolved = [resolved]
        if not isinstance(resolved, list) or not all(
            isinstance(v, (str, int)) and not isinstance(v, bool) for v in resolved
        ):
            raise MappingError("resolved_when", "must be a list of state values")
        if values["state"] and not resolved:
            raise MappingError("resolved_when", "is required with state")
        labels = raw.get("labels") or {}
        if not isinstance(labels, dict):
            raise MappingError("labels", "must map label names to templates")
        for label, template in labels.items():
            if not isinstance(template, str):
                raise MappingError(f"labels.{label}", "must be a template string")
            check_template(template, f"labels.{label}")
        severities = raw.get("severities") or {}
        if not isinstance(severities, dict) or not all(
            isinstance(v, str) for v in severities.values()
        ):
            raise MappingError("severities", "must map the tool's words to severity words")
        labels_from = raw.get("labels_from") or ""
        if labels_from and (not isinstance(labels_from, str) or not _PATH.match(labels_from)):
            raise MappingError("labels_from", "must be a path like alert.labels")
        return cls(
            name=name,
            resolved_when=frozenset(str(v).strip().lower() for v in resolved),
            severities={str(k).strip().lower(): v for k, v in severities.items()},
            labels={str(k): v for k, v in labels.items()},
            labels_from=labels_from,
            **values,
        )

    def parse(self, body: Any, source: Source) -> Batch:
        """One alert from a payload; MalformedPayload when the id or title comes out empty."""
        payload = require_object(body, "the body")
        fingerprint = render(self.id, payload).strip()
        if not fingerprint:
            raise MalformedPayload(f"no alert id: {self.id} is empty in this payload")
        title = one_line(render(self.title, payload))
        if not title:
            raise MalformedPayload(f"no title: {self.title} is empty in this payload")
        state_text = render(self.state, payload).strip().lower() if self.state else ""
        resolved = bool(state_text) and state_text in self.resolved_when
        severity = render(self.severity, payload).strip() if self.severity else ""
        severity = self.severities.get(severity.lower(), severity)
        labels = string_map(lookup(payload, self.labels_from), self.labels_from or "labels")
        for name, template in self.labels.items():
            value = clip(render(template, payload), VALUE_MAX)
            if value:
                labels[name] = value
        if state_text:
            labels.setdefault("state", clip(state_text, VALUE_MAX))
        labels.setdefault("integration", self.name)
        group = render(self.group, payload).strip() if self.group else ""
        alert = AlertIn(
            fingerprint=key(fingerprint),
            state=AlertState.RESOLVED if resolved else AlertState.FIRING,
            title=title,
            severity=clip(severity, 32) or None,
            description=clip(render(self.description, payload), TEXT_MAX),
            labels=labels,
            links=links_of(link=render(self.link, payload).strip()),
            starts_at=parse_time(render(self.started_at, payload).strip(), "started_at")
            if self.started_at
            else None,
        )
        return Batch(
            source=source,
            group_key=key(f"{self.name}/{group or fingerprint}"),
            title=title,
            alerts=(alert,),
            labels=labels,
        )


BUILTIN_SPECS: dict[str, dict[str, Any]] = {
    "generic": {
        "id": "{id|fingerprint}",
        "group": "{group}",
        "title": "{title|summary}",
        "state": "{state|status}",
        "resolved_when": ["resolved", "ok", "closed", "recovered"],
        "severity": "{severity}",
        "description": "{description|message}",
        "link": "{link|url}",
        "started_at": "{started_at}",
        "labels_from": "labels",
    },
    "datadog": {
        "id": "{cycle|monitor_id}",
        "group": "{aggregate|monitor_id}",
        "title": "{title}",
        "state": "{transition}",
        "resolved_when": ["Recovered"],
        "severity": "{priority|alert_type}",
        "description": "{message|status}",
        "link": "{link}",
        "started_at": "{date}",
        "labels": {"monitor": "{monitor_id}", "scope": "{scope}", "tags": "{tags}"},
    },
    "newrelic": {
        "id": "{id}",
        "title": "{title}",
        "state": "{state}",
        "resolved_when": ["CLOSED"],
        "severity": "{priority}",
        "link": "{issueUrl}",
        "started_at": "{createdAt}",
        "labels": {
            "condition": "{alertConditionNames}",
            "policy": "{alertPolicyNames}",
            "entities": "{impactedEntities}",
        },
    },
    "dynatrace": {
        "id": "{PID|ProblemID}",
        "title": "{ProblemTitle}",
        "state": "{State}",
        "resolved_when": ["RESOLVED", "CLOSED"],
        "severity": "{ProblemSeverity}",
        "severities": {
            "AVAILABILITY": "critical",
            "ERROR": "high",
            "PERFORMANCE": "warning",
            "RESOURCE_CONTENTION": "warning",
            "CUSTOM_ALERT": "warning",
            "MONITORING_UNAVAILABLE": "warning",
            "INFO": "info",
        },
        "link": "{ProblemURL}",
        "labels": {
            "problem": "{ProblemID}",
            "impact": "{ProblemImpact}",
            "entity": "{ImpactedEntity}",
            "tags": "{Tags}",
        },
    },
    "zabbix": {
        "id": "{event_id}",
        "group": "{trigger_id|event_id}",
        "title": "{event_name}",
        "state": "{event_value}",
        "resolved_when": ["0"],
        "severity": "{severity}",
        "description": "{message}",
        "link": "{url}",
        "labels": {"host": "{host}", "trigger": "{trigger_id}"},
    },
    "nagios": {
        "id": "{host}/{service}",
        "title": "{host} {service} {state}: {output}",
        "state": "{type}",
        "resolved_when": ["RECOVERY"],
        "severity": "{state}",
        "severities": {"DOWN": "critical", "UNREACHABLE": "critical", "UNKNOWN": "warning"},
        "description": "{output}",
        "labels": {"host": "{host}", "service": "{service}"},
    },
    "xmatters": {
        "id": "{event_id}",
        "title": "{title}",
        "state": "{status}",
        "resolved_when": ["TERMINATED", "TERMINATED_EXTERNAL"],
        "severity": "{priority}",
        "link": "{url}",
        "labels": {"form": "{form}"},
    },
}

BUILTIN: dict[str, AlertMapping] = {
    name: AlertMapping.from_dict(name, spec) for name, spec in BUILTIN_SPECS.items()
}
