"""Tags on incidents (`/incident tag`), and the status page components incidents touched.

A tag is lower case: letters, digits and `-`, `_`, `.`, `/` (at most 32 characters, a leading
`#` is dropped), at most `MAX_TAGS` per incident. Tags and components narrow the console's
incident list (`bot.library.conditions`) and the post-mortem library shows the tags.
Components come from the status page: the components named by the incident's public
incident (`status_incident.component_ids`), chosen among those STATUS_PAGE_FILE declares.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, delete, exists, func, literal
from sqlmodel import Session, col, select

from bot.core.delivery import insert_ignoring
from bot.core.errors import InvalidInput
from bot.permissions.visibility import visible_filter
from storage.models import Incident
from storage.models_library import IncidentTag
from storage.models_statuspage import StatusComponent, StatusIncident

TAG = re.compile(r"^[a-z0-9][a-z0-9._/-]{0,31}$")
MAX_TAGS = 10


def parse_tags(text: str) -> list[str]:
    """The tags named in `text` (spaces or commas between them), or InvalidInput."""
    found: list[str] = []
    for word in re.split(r"[\s,]+", text or ""):
        tag = word.strip().lstrip("#").lower()
        if not tag:
            continue
        if not TAG.match(tag):
            shown = word.strip()[:40]
            raise InvalidInput(
                f"`{shown}` is not a tag: use up to 32 letters, digits, `-`, `_`, `.` or `/`, "
                "for example `/incident tag database dns`."
            )
        if tag not in found:
            found.append(tag)
    return found


def tags_of(session: Session, incident_ids: Iterable[int]) -> dict[int, list[str]]:
    """Each incident's tags, in alphabetical order."""
    ids = sorted(set(incident_ids))
    out: dict[int, list[str]] = {}
    if not ids:
        return out
    rows = session.exec(
        select(IncidentTag.incident_id, IncidentTag.tag)
        .where(col(IncidentTag.incident_id).in_(ids))
        .order_by(col(IncidentTag.tag))
    ).all()
    for incident_id, tag in rows:
        out.setdefault(incident_id, []).append(tag)
    return out


def add(
    session: Session, *, incident_id: int, tags: list[str], actor: str, now: datetime
) -> list[str]:
    """Tag the incident (a tag it has already is kept once); returns all its tags."""
    if not tags:
        raise InvalidInput("Name at least one tag, for example `/incident tag database dns`.")
    current = tags_of(session, [incident_id]).get(incident_id, [])
    new = [t for t in tags if t not in current]
    if len(current) + len(new) > MAX_TAGS:
        raise InvalidInput(
            f"An incident has at most {MAX_TAGS} tags; it has {len(current)} "
            f"({', '.join(current)}). Remove some with `/incident untag <tag>`."
        )
    if new:
        session.execute(
            insert_ignoring(session, IncidentTag)
            .values(
                [
                    {"incident_id": incident_id, "tag": t, "added_by": actor, "added_at": now}
                    for t in new
                ]
            )
            .on_conflict_do_nothing(index_elements=["incident_id", "tag"])
        )
    return sorted(set(current) | set(new))


def remove(session: Session, *, incident_id: int, tags: list[str]) -> list[str]:
    """Take tags off the incident (unknown ones: InvalidInput); returns the tags left."""
    current = tags_of(session, [incident_id]).get(incident_id, [])
    unknown = [t for t in tags if t not in current]
    if not tags or unknown:
        has = ", ".join(f"`{t}`" for t in current) or "no tags"
        raise InvalidInput(
            f"This incident is not tagged `{(unknown or [''])[0]}`; it has {has}."
            if unknown
            else "Name the tags to remove, for example `/incident untag dns`."
        )
    session.execute(
        delete(IncidentTag).where(
            col(IncidentTag.incident_id) == incident_id, col(IncidentTag.tag).in_(tags)
        )
    )
    return [t for t in current if t not in tags]


def tag_counts(session: Session, member_channels: Collection[str]) -> list[tuple[str, int]]:
    """Every tag on an incident the person may see, with how many incidents have it."""
    rows = session.exec(
        select(IncidentTag.tag, func.count())
        .join(Incident, col(Incident.id) == col(IncidentTag.incident_id))
        .where(visible_filter(member_channels))
        .group_by(col(IncidentTag.tag))
        .order_by(col(IncidentTag.tag))
    ).all()
    return [(tag, int(n)) for tag, n in rows]


def has_tag(tag: str) -> ColumnElement[bool]:
    """The incident has `tag` (a condition on the incident table)."""
    return exists(
        select(col(IncidentTag.id)).where(
            col(IncidentTag.incident_id) == col(Incident.id), col(IncidentTag.tag) == tag
        )
    )


def components(session: Session) -> list[tuple[str, str]]:
    """The status page's components (not groups) as (id, name), in page order."""
    rows = session.exec(
        select(StatusComponent.id, StatusComponent.name)
        .where(col(StatusComponent.is_group).is_(False))
        .order_by(col(StatusComponent.active).desc(), col(StatusComponent.position))
    ).all()
    return [(component_id, name) for component_id, name in rows]


def touches_component(component_id: str) -> ColumnElement[bool]:
    """The incident's public incident names `component_id` (a condition on incidents)."""
    listed = literal(",") + col(StatusIncident.component_ids) + literal(",")
    return exists(
        select(col(StatusIncident.id)).where(
            col(StatusIncident.incident_id) == col(Incident.id),
            listed.contains(f",{component_id},", autoescape=True),
        )
    )
