"""Statuspage's public API v2, same paths, field names and values, from a Snapshot."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.statuspage.snapshot import PublicComponent, PublicIncident, PublicUpdate, Snapshot

LIST_MAX = 50  # Statuspage returns the 50 most recent incidents / maintenances


def iso(at: datetime | None, snap: Snapshot) -> str | None:
    """An ISO 8601 time in the page's time zone, with milliseconds, as Statuspage writes it."""
    if at is None:
        return None
    return at.astimezone(snap.config.timezone).isoformat(timespec="milliseconds")


def page(snap: Snapshot) -> dict[str, Any]:
    """The `page` object every file starts with."""
    return {
        "id": snap.config.page_id,
        "name": snap.config.name,
        "url": snap.config.url,
        "time_zone": snap.config.time_zone_name,
        "updated_at": iso(snap.changed_at, snap),
    }


def component(c: PublicComponent, snap: Snapshot) -> dict[str, Any]:
    """One component (a group carries `group: true` and its children's ids)."""
    out: dict[str, Any] = {
        "id": c.id,
        "name": c.name,
        "status": c.status.value,
        "created_at": iso(c.created_at, snap),
        "updated_at": iso(c.updated_at, snap),
        "position": c.position + 1,
        "description": c.description or None,
        "showcase": not c.is_group,
        "start_date": c.created_at.astimezone(snap.config.timezone).date().isoformat(),
        "group_id": c.group_id,
        "page_id": snap.config.page_id,
        "group": c.is_group,
        "only_show_if_degraded": False,
    }
    if c.is_group:
        out["components"] = list(c.children)
    return out


def _update(u: PublicUpdate, incident: PublicIncident, snap: Snapshot) -> dict[str, Any]:
    return {
        "id": u.id,
        "status": u.status,
        "body": u.body,
        "incident_id": incident.id,
        "created_at": iso(u.created_at, snap),
        "updated_at": iso(u.created_at, snap),
        "display_at": iso(u.created_at, snap),
        "affected_components": [dict(a) for a in u.affected] or None,
        "deliver_notifications": True,
        "custom_tweet": None,
        "tweet_id": None,
    }


def incident(i: PublicIncident, snap: Snapshot) -> dict[str, Any]:
    """One incident or scheduled maintenance."""
    out: dict[str, Any] = {
        "id": i.id,
        "name": i.name,
        "status": i.status,
        "created_at": iso(i.created_at, snap),
        "updated_at": iso(i.updated_at, snap),
        "monitoring_at": iso(i.monitoring_at, snap),
        "resolved_at": iso(i.resolved_at, snap),
        "impact": i.impact,
        "shortlink": f"{snap.config.url}/status/incidents/{i.id}",
        "started_at": iso(i.started_at, snap),
        "page_id": snap.config.page_id,
        "incident_updates": [_update(u, i, snap) for u in i.updates],
        "components": [
            component(c, snap) for cid in i.component_ids if (c := snap.component(cid)) is not None
        ],
    }
    if i.kind == "maintenance":
        out["scheduled_for"] = iso(i.scheduled_for, snap)
        out["scheduled_until"] = iso(i.scheduled_until, snap)
    return out


def status(snap: Snapshot) -> dict[str, Any]:
    """status.json's `status`."""
    return {"indicator": snap.indicator.value, "description": snap.description}


def maintenance_list(snap: Snapshot, which: str) -> list[dict[str, Any]]:
    """All (newest first), upcoming or active scheduled maintenances."""
    if which == "upcoming":
        chosen = list(snap.upcoming)
    elif which == "active":
        chosen = list(snap.active_maintenance)
    else:
        chosen = sorted(snap.maintenances, key=lambda m: m.created_at, reverse=True)[:LIST_MAX]
    return [incident(m, snap) for m in chosen]


def files(snap: Snapshot) -> dict[str, dict[str, Any]]:
    """Every API file by its path."""
    comps = [component(c, snap) for c in snap.components]
    unresolved = [incident(i, snap) for i in snap.unresolved]
    live_maintenance = [incident(m, snap) for m in (*snap.active_maintenance, *snap.upcoming)]
    return {
        "/api/v2/summary.json": {
            "page": page(snap),
            "components": comps,
            "incidents": unresolved,
            "scheduled_maintenances": live_maintenance,
            "status": status(snap),
        },
        "/api/v2/status.json": {"page": page(snap), "status": status(snap)},
        "/api/v2/components.json": {"page": page(snap), "components": comps},
        "/api/v2/incidents.json": {
            "page": page(snap),
            "incidents": [incident(i, snap) for i in snap.incidents[:LIST_MAX]],
        },
        "/api/v2/incidents/unresolved.json": {"page": page(snap), "incidents": unresolved},
        "/api/v2/scheduled-maintenances.json": {
            "page": page(snap),
            "scheduled_maintenances": maintenance_list(snap, "all"),
        },
        "/api/v2/scheduled-maintenances/upcoming.json": {
            "page": page(snap),
            "scheduled_maintenances": maintenance_list(snap, "upcoming"),
        },
        "/api/v2/scheduled-maintenances/active.json": {
            "page": page(snap),
            "scheduled_maintenances": maintenance_list(snap, "active"),
        },
    }
