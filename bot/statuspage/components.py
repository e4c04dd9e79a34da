"""Components: kept in step with STATUS_PAGE_FILE, their status, and its history (spans)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from bot.core.errors import InvalidInput, NotFound
from bot.statuspage import state
from bot.statuspage.config import PageConfig
from bot.statuspage.vocabulary import ComponentStatus
from storage.models_statuspage import StatusComponent, StatusComponentSpan
from storage.types import utcnow


@dataclass(frozen=True)
class Change:
    """One component's status change, as a public update lists it."""

    code: str
    name: str
    old_status: str
    new_status: str

    def as_json(self) -> dict[str, str]:
        """Statuspage's `affected_components[]` entry."""
        return {
            "code": self.code,
            "name": self.name,
            "old_status": self.old_status,
            "new_status": self.new_status,
        }


def epoch(at: datetime) -> int:
    """Unix seconds."""
    return int(at.timestamp())


def sync(session: Session, config: PageConfig, *, now: datetime | None = None) -> None:
    """Make the component rows match the file: add new ones, update names, retire removed ones."""
    now = now or utcnow()
    rows = {row.id: row for row in session.exec(select(StatusComponent)).all()}
    wanted: dict[str, tuple[str, str, str | None, bool, int]] = {}
    for group in config.groups:
        wanted[group.id] = (group.name, "", None, True, group.position)
    for comp in config.components:
        wanted[comp.id] = (comp.name, comp.description, comp.group_id, False, comp.position)
    touched = False
    for id_, (name, description, group_id, is_group, position) in wanted.items():
        row = rows.get(id_)
        values = (name, description, group_id, is_group, position, True)
        if row is None:
            row = StatusComponent(
                id=id_,
                name=name,
                description=description,
                group_id=group_id,
                is_group=is_group,
                position=position,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            if not is_group:
                span = StatusComponentSpan(component_id=id_, status=row.status, start_s=epoch(now))
                session.add(span)
            touched = True
            continue
        current = (row.name, row.description, row.group_id, row.is_group, row.position, row.active)
        if current != values:
            row.name, row.description, row.group_id = name, description, group_id
            row.is_group, row.position, row.active = is_group, position, True
            row.updated_at = now
            session.add(row)
            touched = True
    for id_, row in rows.items():
        if id_ not in wanted and row.active:
            row.active = False
            row.updated_at = now
            session.add(row)
            touched = True
    if touched:
        state.changed(session, now=now)


def active(session: Session) -> list[StatusComponent]:
    """Every configured component and group, in page order."""
    return list(
        session.exec(
            select(StatusComponent)
            .where(col(StatusComponent.active).is_(True))
            .order_by(col(StatusComponent.position), col(StatusComponent.is_group).desc())
        ).all()
    )


def get(session: Session, component_id: str) -> StatusComponent:
    """An active, non-group component, or NotFound."""
    row = session.get(StatusComponent, component_id)
    if row is None or not row.active or row.is_group:
        raise NotFound(f"There is no status page component `{component_id}`.")
    return row


def set_status(
    session: Session, *, component_id: str, status: ComponentStatus, now: datetime
) -> Change | None:
    """Change one component's status (closing its open span); None when it already was."""
    row = get(session, component_id)
    old = row.status
    if old == status.value:
        return None
    second = epoch(now)
    open_span = session.exec(
        select(StatusComponentSpan)
        .where(StatusComponentSpan.component_id == component_id)
        .where(col(StatusComponentSpan.end_s).is_(None))
    ).all()
    for span in open_span:
        span.end_s = max(second, span.start_s)
        session.add(span)
    session.add(StatusComponentSpan(component_id=component_id, status=status.value, start_s=second))
    row.status = status.value
    row.updated_at = now
    session.add(row)
    session.flush()
    return Change(code=row.id, name=row.name, old_status=old, new_status=status.value)


def set_many(
    session: Session, *, statuses: dict[str, ComponentStatus], now: datetime
) -> list[Change]:
    """Change several components; the changes made (in the order given)."""
    changes = []
    for component_id, status in statuses.items():
        change = set_status(session, component_id=component_id, status=status, now=now)
        if change is not None:
            changes.append(change)
    return changes


def set_manually(
    session: Session,
    *,
    config: PageConfig,
    name: str,
    status: ComponentStatus,
    now: datetime | None = None,
) -> Change:
    """`/incident component <name> <status>`: a change with no incident behind it."""
    now = now or utcnow()
    found = config.find(name)
    if found is None:
        shown = name.strip() or "(nothing)"
        raise InvalidInput(f"No component is called `{shown}`. Components: {config.names()}.")
    change = set_status(session, component_id=found.id, status=status, now=now)
    if change is None:
        raise InvalidInput(f"{found.name} is already {status.label.lower()}.")
    state.changed(session, now=now)
    return change


def check_ids(config: PageConfig, ids: list[str]) -> list[str]:
    """The ids as given, or InvalidInput naming one that is not a configured component."""
    for id_ in ids:
        if config.component(id_) is None:
            raise InvalidInput(
                f"`{id_}` is not a status page component.",
                fields={"sp_components": "Choose configured components."},
            )
    return list(dict.fromkeys(ids))
