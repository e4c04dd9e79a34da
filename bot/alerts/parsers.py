"""Parsers of the senders with a fixed format: Alertmanager, Grafana, PagerDuty, Opsgenie.

Each takes the decoded JSON body (and the delivery id the sender put in a header, if any)
and returns a `Batch`, or raises `MalformedPayload` naming what is wrong.

- Alertmanager webhook, version 4 (prometheus/alertmanager `notify/webhook`): one group per
  delivery, `groupKey` is the group, each alert has its `fingerprint`.
- Grafana alerting webhook (grafana/alerting `receivers/webhook/v1`): the Alertmanager envelope
  plus `orgId`, `title`, `state`, `message`, and per alert `dashboardURL`, `panelURL`,
  `silenceURL`, `values`.
- PagerDuty v3 webhooks: one event per delivery about one PagerDuty incident, which is both
  the group and the alert (PagerDuty grouped the alerts into it).
- Opsgenie webhook: one `action` on one Opsgenie alert, which is its own group.
"""

from __future__ import annotations

from typing import Any

from bot.alerts.model import (
    ALERTS_MAX,
    TEXT_MAX,
    VALUE_MAX,
    AlertIn,
    AlertState,
    Batch,
    MalformedPayload,
    Source,
    clip,
    ignored,
    key,
    links_of,
    one_line,
    parse_time,
    require_object,
    string_map,
)

RUNBOOK_ANNOTATIONS = ("runbook_url", "runbook", "playbook_url", "playbook")
SEVERITY_LABELS = ("severity", "priority", "level")


def _first(mapping: dict[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = mapping.get(name)
        if value:
            return value
    return None


def _state(value: Any, where: str) -> AlertState:
    if value in ("firing", "resolved"):
        return AlertState(value)
    raise MalformedPayload(f"{where} must be firing or resolved, not {clip(value, 20)!r}")


def _prometheus_alert(raw: Any, index: int, source: Source) -> AlertIn:
    where = f"alerts[{index}]"
    alert = require_object(raw, where)
    labels = string_map(alert.get("labels"), f"{where}.labels")
    annotations = string_map(alert.get("annotations"), f"{where}.annotations")
    fingerprint = alert.get("fingerprint")
    if not isinstance(fingerprint, str) or not fingerprint.strip():
        raise MalformedPayload(f"{where}.fingerprint is missing")
    title = (
        _first(annotations, ("summary", "title", "message"))
        or labels.get("alertname")
        or fingerprint
    )
    links = links_of(
        source=alert.get("generatorURL"),
        runbook=_first(annotations, RUNBOOK_ANNOTATIONS),
        dashboard=alert.get("dashboardURL") or annotations.get("dashboard_url"),
        panel=alert.get("panelURL"),
        silence=alert.get("silenceURL"),
        image=alert.get("imageURL"),
    )
    values = alert.get("values")
    if source is Source.GRAFANA and isinstance(values, dict) and values:
        shown = ", ".join(f"{name}={value}" for name, value in list(values.items())[:10])
        annotations = {**annotations, "values": clip(shown, VALUE_MAX)}
    return AlertIn(
        fingerprint=key(fingerprint.strip()),
        state=_state(alert.get("status"), f"{where}.status"),
        title=one_line(title),
        severity=_first(labels, SEVERITY_LABELS),
        description=clip(_first(annotations, ("description", "message")) or "", TEXT_MAX),
        labels=labels,
        annotations=annotations,
        links=links,
        starts_at=parse_time(alert.get("startsAt"), f"{where}.startsAt"),
        ends_at=parse_time(alert.get("endsAt"), f"{where}.endsAt"),
    )


def _group_title(body: dict[str, Any], alerts: tuple[AlertIn, ...], common: dict[str, str]) -> str:
    annotations = string_map(body.get("commonAnnotations"), "commonAnnotations")
    group_labels = string_map(body.get("groupLabels"), "groupLabels")
    title = _first(annotations, ("summary", "title")) or common.get("alertname")
    if not title and group_labels:
        title = ", ".join(f"{name}={value}" for name, value in group_labels.items() if value)
    return one_line(title or alerts[0].title)


def parse_prometheus(body: Any, source: Source = Source.ALERTMANAGER) -> Batch:
    """An Alertmanager (version 4) or Grafana (version 1) webhook delivery."""
    payload = require_object(body, "the body")
    raw_alerts = payload.get("alerts")
    if not isinstance(raw_alerts, list):
        raise MalformedPayload("alerts must be a list")
    if not raw_alerts:
        return ignored(source, "the delivery has no alerts")
    if len(raw_alerts) > ALERTS_MAX:
        raise MalformedPayload(f"at most {ALERTS_MAX} alerts per delivery")
    group_key = payload.get("groupKey")
    if not isinstance(group_key, str) or not group_key:
        raise MalformedPayload("groupKey is missing")
    alerts = tuple(_prometheus_alert(raw, i, source) for i, raw in enumerate(raw_alerts))
    common = string_map(payload.get("commonLabels"), "commonLabels")
    if source is Source.GRAFANA and payload.get("orgId") is not None:
        group_key = f"org{payload.get('orgId')}/{group_key}"
    return Batch(
        source=source,
        group_key=key(group_key),
        title=_group_title(payload, alerts, common),
        alerts=alerts,
        labels=common,
        all_resolved=payload.get("status") == "resolved",
    )


def parse_grafana(body: Any) -> Batch:
    """A Grafana alerting webhook delivery."""
    return parse_prometheus(body, Source.GRAFANA)


# --- PagerDuty v3 -----------------------------------------------------------------------------

PAGERDUTY_FIRING = {
    "incident.triggered",
    "incident.reopened",
    "incident.unacknowledged",
    "incident.acknowledged",
    "incident.escalated",
    "incident.reassigned",
    "incident.delegated",
    "incident.priority_updated",
    "incident.service_updated",
}


def _summary(reference: Any) -> str | None:
    if isinstance(reference, dict) and isinstance(reference.get("summary"), str):
        return one_line(reference["summary"], 64) or None
    return None


def parse_pagerduty(body: Any, delivery_id: str | None) -> Batch:
    """A PagerDuty v3 webhook delivery (one event about one incident)."""
    payload = require_object(body, "the body")
    event = require_object(payload.get("event"), "event")
    event_type = event.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        raise MalformedPayload("event.event_type is missing")
    data = require_object(event.get("data"), "event.data")
    if event_type not in PAGERDUTY_FIRING and event_type != "incident.resolved":
        return ignored(Source.PAGERDUTY, f"{clip(event_type, 60)} is not an alert", delivery_id)
    if data.get("type") != "incident":
        raise MalformedPayload("event.data.type must be incident for incident events")
    incident_id = data.get("id")
    if not isinstance(incident_id, str) or not incident_id:
        raise MalformedPayload("event.data.id is missing")
    occurred = parse_time(event.get("occurred_at"), "event.occurred_at")
    resolved = event_type == "incident.resolved"
    title = one_line(data.get("title") or f"PagerDuty incident {incident_id}")
    labels = {
        name: value
        for name, value in {
            "service": _summary(data.get("service")),
            "escalation_policy": _summary(data.get("escalation_policy")),
            "urgency": clip(data.get("urgency") or "", 16) or None,
            "priority": _summary(data.get("priority")),
            "number": clip(data.get("number") or "", 16) or None,
        }.items()
        if value
    }
    alert = AlertIn(
        fingerprint=key(incident_id),
        state=AlertState.RESOLVED if resolved else AlertState.FIRING,
        title=title,
        severity=labels.get("priority") or labels.get("urgency"),
        labels=labels,
        links=links_of(incident=data.get("html_url")),
        # A reopened incident fires anew from the reopening (its created_at is the first time).
        starts_at=occurred
        if event_type == "incident.reopened"
        else parse_time(data.get("created_at"), "event.data.created_at") or occurred,
        ends_at=occurred if resolved else None,
        acknowledged_by=_summary(event.get("agent"))
        if event_type == "incident.acknowledged"
        else None,
    )
    return Batch(
        source=Source.PAGERDUTY,
        group_key=key(incident_id),
        title=title,
        alerts=(alert,),
        labels=labels,
        delivery_id=delivery_id,
    )


# --- Opsgenie ---------------------------------------------------------------------------------

OPSGENIE_RESOLVING = {"Close", "Delete"}
OPSGENIE_UPDATING = {
    "Create",
    "Acknowledge",
    "UnAcknowledge",
    "AddNote",
    "AddTags",
    "RemoveTags",
    "AddDetails",
    "RemoveDetails",
    "AssignOwnership",
    "TakeOwnership",
    "Escalate",
    "EscalateToNext",
    "AddRecipient",
    "AddTeam",
    "AddResponder",
    "UpdatePriority",
    "UpdateMessage",
    "UpdateDescription",
    "Snooze",
    "SnoozeEnded",
}


def _opsgenie_labels(alert: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = {}
    tags = alert.get("tags")
    if isinstance(tags, list):
        for tag in tags[:32]:
            name, sep, value = str(tag).partition(":")
            if sep and name.strip():
                labels[clip(name, 100)] = clip(value, VALUE_MAX)
        labels["tags"] = clip(", ".join(str(tag) for tag in tags), VALUE_MAX)
    for name in ("entity", "source", "priority"):
        if isinstance(alert.get(name), str) and alert[name].strip():
            labels[name] = clip(alert[name], VALUE_MAX)
    return {name: value for name, value in labels.items() if value}


def parse_opsgenie(body: Any) -> Batch:
    """An Opsgenie webhook delivery (one action on one alert)."""
    payload = require_object(body, "the body")
    action = payload.get("action")
    if not isinstance(action, str) or not action:
        raise MalformedPayload("action is missing")
    alert = require_object(payload.get("alert"), "alert")
    alert_id = alert.get("alertId")
    if not isinstance(alert_id, str) or not alert_id:
        raise MalformedPayload("alert.alertId is missing")
    if action not in OPSGENIE_RESOLVING and action not in OPSGENIE_UPDATING:
        return ignored(Source.OPSGENIE, f"action {clip(action, 40)} is not handled")
    labels = _opsgenie_labels(alert)
    annotations = string_map(alert.get("details"), "alert.details")
    if action == "AddNote" and alert.get("note"):
        annotations["note"] = clip(alert["note"], VALUE_MAX)
    title = one_line(alert.get("message") or f"Opsgenie alert {alert.get('tinyId') or alert_id}")
    created = parse_time(alert.get("createdAt"), "alert.createdAt")
    updated = parse_time(alert.get("updatedAt"), "alert.updatedAt")
    resolving = action in OPSGENIE_RESOLVING
    item = AlertIn(
        fingerprint=key(alert_id),
        state=AlertState.RESOLVED if resolving else AlertState.FIRING,
        title=title,
        severity=labels.get("priority"),
        description=clip(alert.get("description") or "", TEXT_MAX),
        labels=labels,
        annotations=annotations,
        starts_at=created,
        ends_at=updated if resolving else None,
        acknowledged_by=one_line(alert.get("username") or "someone", 64)
        if action == "Acknowledge"
        else None,
    )
    return Batch(
        source=Source.OPSGENIE,
        group_key=key(alert_id),
        title=title,
        alerts=(item,),
        labels=labels,
    )
