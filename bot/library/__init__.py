"""The incident library: finding incidents, one incident in full, post-mortems, action items.

Read-only queries for the console. Every one takes the set of private incident channels the
person is in (`member_channels`) and applies bot.permissions.visibility, so a private
incident never shows up for someone outside its channel; an incident they may not see is
reported as not existing. Filtering and text search run in the database.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, and_, column, func, or_, table
from sqlmodel import Session, col, select

from bot import incidents
from bot.core.errors import InvalidInput, NotFound
from bot.core.vocabulary import Role, Severity, Status
from bot.incidents import IncidentView
from bot.library import tags
from bot.library.reviews import PostmortemRow as PostmortemRow
from bot.library.reviews import action_items as action_items
from bot.library.reviews import postmortems as postmortems
from bot.permissions.visibility import may_see, visible_filter
from storage.models import Incident, IncidentRole, IncidentUpdate
from storage.models_library import PostmortemVersion
from storage.models_postmortems import ActionItem, PostMortem
from storage.models_timeline import TimelineEntry

TIMELINE_FTS = table("timeline_entry_fts", column("rowid"), column("text"))
PER_PAGE = 50
SEARCH_MAX = 200
OPEN = "open"
COMPONENT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


@dataclass(frozen=True)
class Filters:
    """What the incident list is narrowed to."""

    status: str = ""  # a Status value, "open" (not resolved) or "" (any)
    severity: str = ""  # a Severity value or ""
    since: date | None = None  # declared on or after (UTC)
    until: date | None = None  # declared on or before (UTC)
    text: str = ""
    page: int = 1
    component: str = ""  # a status page component's id, or ""
    tag: str = ""  # a tag (bot.library.tags), or ""

    def query_string(self, **changes: object) -> dict[str, str]:
        """The filters as URL parameters (with `changes`), empty ones left out."""
        values = {
            "status": self.status,
            "severity": self.severity,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "q": self.text,
            "component": self.component,
            "tag": self.tag,
            "page": str(self.page) if self.page > 1 else "",
        }
        values.update({k: str(v) for k, v in changes.items()})
        return {k: v for k, v in values.items() if v and not (k == "page" and v == "1")}


def _date(value: str, name: str, errors: dict[str, str]) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        errors[name] = f"`{value.strip()}` is not a date; use YYYY-MM-DD."
        return None


def parse_filters(params: Mapping[str, str]) -> Filters:
    """Filters from URL parameters; InvalidInput names each bad one."""
    errors: dict[str, str] = {}
    status = params.get("status", "").strip().lower()
    if status and status != OPEN and status not in {s.value for s in Status}:
        errors["status"] = f"Unknown status `{status}`."
    severity = params.get("severity", "").strip().lower()
    if severity and severity not in {s.value for s in Severity}:
        errors["severity"] = f"Unknown severity `{severity}`."
    since = _date(params.get("since", ""), "since", errors)
    until = _date(params.get("until", ""), "until", errors)
    if since and until and since > until:
        errors["until"] = "The end date comes before the start date."
    text = " ".join(params.get("q", "").split())
    if len(text) > SEARCH_MAX:
        errors["q"] = f"Search for at most {SEARCH_MAX} characters."
    page_text = params.get("page", "1").strip() or "1"
    page = int(page_text) if page_text.isdigit() and 0 < int(page_text) < 100_000 else 0
    if not page:
        errors["page"] = f"`{page_text}` is not a page number."
    component = params.get("component", "").strip()
    if component and not COMPONENT_ID.match(component):
        errors["component"] = f"`{component[:40]}` is not a component."
    tag = params.get("tag", "").strip().lstrip("#").lower()
    if tag and not tags.TAG.match(tag):
        errors["tag"] = f"`{tag[:40]}` is not a tag."
    if errors:
        raise InvalidInput(" ".join(errors.values()), fields=errors)
    return Filters(status, severity, since, until, text, page, component, tag)


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _matches(term: str, *, sqlite: bool) -> ColumnElement[bool]:
    """The incident mentions `term` (any case) anywhere people wrote about it."""
    pattern = _like(term)

    def like(column: object) -> ColumnElement[bool]:
        if sqlite:  # SQLite's LIKE ignores case already; ILIKE would add lower() to each row
            return col(column).like(pattern, escape="\\")
        return col(column).ilike(pattern, escape="\\")

    updates = select(IncidentUpdate.incident_id).where(like(IncidentUpdate.message))
    if sqlite and not any(c in term for c in "%_\\"):
        # The FTS5 trigram index of the timeline (migration 0016) answers LIKE '%term%' (only
        # without an ESCAPE clause, hence only for terms without wildcard characters).
        indexed = select(TIMELINE_FTS.c.rowid).where(TIMELINE_FTS.c.text.like(f"%{term}%"))
        found: ColumnElement[bool] = col(TimelineEntry.id).in_(indexed)
    else:
        found = like(TimelineEntry.text)
    timeline = select(TimelineEntry.incident_id).where(
        found, col(TimelineEntry.deleted_at).is_(None)
    )
    postmortems = select(PostMortem.incident_id).where(like(PostMortem.document))
    return or_(
        like(Incident.title),
        like(Incident.summary),
        like(Incident.impact),
        like(Incident.resolution),
        col(Incident.id).in_(updates),
        col(Incident.id).in_(timeline),
        col(Incident.id).in_(postmortems),
    )


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def conditions(
    filters: Filters, member_channels: Collection[str], *, sqlite: bool = False
) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a filtered list (visibility first)."""
    where: list[ColumnElement[bool]] = [visible_filter(member_channels)]
    if filters.status == OPEN:
        where.append(col(Incident.status) != Status.RESOLVED.value)
    elif filters.status:
        where.append(col(Incident.status) == filters.status)
    if filters.severity:
        where.append(col(Incident.severity) == filters.severity)
    if filters.since:
        where.append(col(Incident.declared_at) >= _day_start(filters.since))
    if filters.until:
        where.append(col(Incident.declared_at) < _day_start(filters.until + timedelta(days=1)))
    if filters.component:
        where.append(tags.touches_component(filters.component))
    if filters.tag:
        where.append(tags.has_tag(filters.tag))
    for term in filters.text.split():
        where.append(_matches(term, sqlite=sqlite))
    return where


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


@dataclass(frozen=True)
class Page:
    """One page of incidents."""

    views: list[IncidentView]
    page: int
    has_next: bool


def _with_roles(session: Session, found: list[Incident]) -> list[IncidentView]:
    ids = [i.id for i in found if i.id is not None]
    roles: dict[int, dict[str, str]] = {}
    if ids:
        rows = session.exec(select(IncidentRole).where(col(IncidentRole.incident_id).in_(ids)))
        for row in rows:
            roles.setdefault(row.incident_id, {})[row.role] = row.user_id
    return [
        IncidentView(incident=i, roles={Role(k): v for k, v in roles.get(i.id or 0, {}).items()})
        for i in found
    ]


def search(
    session: Session,
    filters: Filters,
    *,
    member_channels: Collection[str],
    per_page: int = PER_PAGE,
) -> Page:
    """Incidents matching `filters`, newest first, one page at a time."""
    query = (
        select(Incident)
        .where(and_(*conditions(filters, member_channels, sqlite=_is_sqlite(session))))
        .order_by(col(Incident.number).desc())
        .offset((filters.page - 1) * per_page)
        .limit(per_page + 1)
    )
    found = list(session.exec(query).all())
    return Page(_with_roles(session, found[:per_page]), filters.page, len(found) > per_page)


@dataclass(frozen=True)
class Detail:
    """One incident in full, as the console shows it."""

    view: IncidentView
    updates: list[IncidentUpdate]
    timeline: list[TimelineEntry]
    action_items: list[ActionItem]
    postmortem: PostMortem | None
    versions: list[PostmortemVersion]  # newest first, without their documents' text


def visible_incident(
    session: Session, *, number: int, member_channels: Collection[str]
) -> Incident:
    """Incident `number`, or NotFound (also when the person may not see it)."""
    incident = session.exec(select(Incident).where(Incident.number == number)).first()
    if incident is None or not may_see(incident, member_channels):
        raise NotFound(f"There is no incident #{number}.")
    return incident


def detail(session: Session, *, number: int, member_channels: Collection[str]) -> Detail:
    """Everything about incident `number` that the console shows."""
    incident = visible_incident(session, number=number, member_channels=member_channels)
    assert incident.id is not None
    updates = session.exec(
        select(IncidentUpdate)
        .where(IncidentUpdate.incident_id == incident.id)
        .order_by(col(IncidentUpdate.posted_at), col(IncidentUpdate.id))
    ).all()
    timeline = session.exec(
        select(TimelineEntry)
        .where(TimelineEntry.incident_id == incident.id, col(TimelineEntry.deleted_at).is_(None))
        .order_by(col(TimelineEntry.occurred_at), col(TimelineEntry.id))
    ).all()
    items = session.exec(
        select(ActionItem)
        .where(ActionItem.incident_id == incident.id)
        .order_by(col(ActionItem.created_at), col(ActionItem.id))
    ).all()
    pm = session.exec(select(PostMortem).where(PostMortem.incident_id == incident.id)).first()
    versions = session.exec(
        select(PostmortemVersion)
        .where(PostmortemVersion.incident_id == incident.id)
        .order_by(col(PostmortemVersion.version).desc())
    ).all()
    return Detail(
        view=incidents.view(session, incident_id=incident.id),
        updates=list(updates),
        timeline=list(timeline),
        action_items=list(items),
        postmortem=pm,
        versions=list(versions),
    )


def postmortem_version(
    session: Session, *, number: int, version: int, member_channels: Collection[str]
) -> PostmortemVersion:
    """One kept version of incident `number`'s post-mortem, or NotFound."""
    incident = visible_incident(session, number=number, member_channels=member_channels)
    found = session.exec(
        select(PostmortemVersion).where(
            PostmortemVersion.incident_id == incident.id, PostmortemVersion.version == version
        )
    ).first()
    if found is None:
        raise NotFound(f"Incident #{number}'s post-mortem has no version {version}.")
    return found


@dataclass(frozen=True)
class HomeLists:
    """One person's lists for the App Home (each capped at `rows`, with its full count)."""

    open_incidents: list[IncidentView]
    open_count: int
    my_roles: list[tuple[IncidentView, Role]]
    my_roles_count: int
    my_items: list[tuple[ActionItem, Incident]]
    my_items_count: int
    overdue: list[tuple[PostMortem, Incident]]
    overdue_count: int


def home_lists(
    session: Session,
    *,
    user_id: str,
    member_channels: Collection[str],
    today: date,
    rows: int,
) -> HomeLists:
    """Open incidents, the person's roles and open action items, overdue post-mortems."""
    visible = visible_filter(member_channels)
    is_open = col(Incident.status) != Status.RESOLVED.value
    open_query = select(Incident).where(visible, is_open)
    open_count = session.exec(select(func.count()).select_from(open_query.subquery())).one()
    newest = session.exec(open_query.order_by(col(Incident.number).desc()).limit(rows)).all()
    roles_query = (
        select(IncidentRole, Incident)
        .join(Incident, col(Incident.id) == col(IncidentRole.incident_id))
        .where(IncidentRole.user_id == user_id, visible, is_open)
    )
    roles_count = session.exec(select(func.count()).select_from(roles_query.subquery())).one()
    roles = session.exec(roles_query.order_by(col(Incident.number).desc()).limit(rows)).all()
    role_views = {v.incident.id: v for v in _with_roles(session, [inc for _, inc in roles])}
    items_query = (
        select(ActionItem, Incident)
        .join(Incident, col(Incident.id) == col(ActionItem.incident_id))
        .where(ActionItem.owner == user_id, ActionItem.state == "open", visible)
    )
    items_count = session.exec(select(func.count()).select_from(items_query.subquery())).one()
    items = session.exec(
        items_query.order_by(
            col(ActionItem.due_on).is_(None), col(ActionItem.due_on), col(ActionItem.id)
        ).limit(rows)
    ).all()
    overdue_query = (
        select(PostMortem, Incident)
        .join(Incident, col(Incident.id) == col(PostMortem.incident_id))
        .where(
            col(PostMortem.completed_at).is_(None),
            col(PostMortem.due_on).is_not(None),
            col(PostMortem.due_on) < today,
            visible,
        )
    )
    overdue_count = session.exec(select(func.count()).select_from(overdue_query.subquery())).one()
    overdue = session.exec(overdue_query.order_by(col(PostMortem.due_on)).limit(rows)).all()
    return HomeLists(
        open_incidents=_with_roles(session, list(newest)),
        open_count=int(open_count),
        my_roles=[(role_views[inc.id], Role(role.role)) for role, inc in roles],
        my_roles_count=int(roles_count),
        my_items=[(item, inc) for item, inc in items],
        my_items_count=int(items_count),
        overdue=[(pm, inc) for pm, inc in overdue],
        overdue_count=int(overdue_count),
    )
