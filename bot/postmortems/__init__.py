"""Post-mortems: drafting from what the bot knows, edits, owner, due date, completion.

Functions take the session first and everything else by keyword; they never call Slack
(bot.slack.postmortems posts the document). People's names are looked up by the caller
beforehand (`people` lists whose) and passed in as `name_of`, so no transaction waits on
Slack. Changes return the post-mortem and the event to publish (the Slack side then drafts
and posts the document again). Rendering is in bot.postmortems.docs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from bot import action_items, followups, incidents
from bot import timeline as tl
from bot.core import inputs, slack_text
from bot.core.errors import InvalidInput
from bot.core.events import PostmortemCompleted, PostmortemEdited, PostmortemOpened
from bot.core.vocabulary import Role, Severity, Status
from bot.followups.policy import FollowUpPolicy, Kind
from bot.postmortems import docs
from bot.reminders import insert_ignoring
from storage.models import Incident, IncidentUpdate
from storage.models_library import PostmortemVersion
from storage.models_postmortems import PostMortem
from storage.types import utcnow

NameOf = Callable[[str], str | None]
SECTIONS = ("summary", "impact", "root_cause", "resolution")
SECTION_MAX = 3000


def _no_names(_: str) -> str | None:
    return None


def find(session: Session, *, incident_id: int) -> PostMortem | None:
    """The incident's post-mortem, if it has one."""
    return session.exec(select(PostMortem).where(PostMortem.incident_id == incident_id)).first()


def ensure(session: Session, *, incident_id: int, now: datetime | None = None) -> PostMortem:
    """The incident's post-mortem, created (once, whoever races) when missing."""
    incidents.get(session, incident_id=incident_id)
    session.execute(
        insert_ignoring(session, PostMortem)
        .values(
            incident_id=incident_id,
            version=0,
            document="",
            customer="",
            created_at=now or utcnow(),
        )
        .on_conflict_do_nothing()
    )
    return session.exec(
        select(PostMortem).where(PostMortem.incident_id == incident_id).with_for_update()
    ).one()


def _updates(session: Session, incident_id: int) -> list[IncidentUpdate]:
    query = (
        select(IncidentUpdate)
        .where(IncidentUpdate.incident_id == incident_id)
        .order_by(col(IncidentUpdate.posted_at), col(IncidentUpdate.id))
    )
    return list(session.exec(query).all())


def _is_person(user_id: str | None) -> bool:
    return bool(user_id) and str(user_id)[:1] in ("U", "W")


def people(session: Session, *, incident_id: int) -> list[str]:
    """Every user id a post-mortem of this incident may name (to look up beforehand)."""
    incident = incidents.get(session, incident_id=incident_id)
    found: list[str] = [incident.declared_by]
    found += incidents.roles_of(session, incident_id=incident_id).values()
    texts = [incident.summary, incident.impact, incident.resolution]
    for update in _updates(session, incident_id):
        found.append(update.author)
        texts.append(update.message)
    for entry in tl.entries(session, incident_id=incident_id):
        found.append(entry.author or "")
    for item in action_items.of_incident(session, incident_id=incident_id):
        found += [item.owner, item.created_by]
        texts.append(item.text)
    pm = find(session, incident_id=incident_id)
    if pm is not None:
        found.append(pm.owner or "")
        texts += [getattr(pm, name) or "" for name in SECTIONS]
    for text in texts:
        found += slack_text.mentioned_users(text)
    return [u for u in dict.fromkeys(found) if _is_person(u)]


# -- the facts ------------------------------------------------------------------------------


def _status_update(updates: Iterable[IncidentUpdate], status: Status) -> IncidentUpdate | None:
    return next((u for u in updates if u.status == status.value), None)


def _readable(text: str, name_of: NameOf) -> str:
    return slack_text.render(text or "", user_name=name_of).strip()


def _summary(incident: Incident, name_of: NameOf) -> str:
    severity = Severity(incident.severity).label
    facts = f"{severity} incident declared {docs.utc(incident.declared_at)}"
    if incident.resolved_at is not None:
        took = docs.duration((incident.resolved_at - incident.declared_at).total_seconds())
        facts += f" and resolved {docs.utc(incident.resolved_at)}, after {took}."
    else:
        facts += f"; still {Status(incident.status).label.lower()}."
    declared = _readable(incident.summary, name_of)
    return f"{declared}\n\n{facts}" if declared else facts


def _section(
    name: str, written: str | None, drafted: str, hint: str, name_of: NameOf
) -> docs.Section:
    prompt = docs.PROMPTS[name]
    if written is not None:
        return docs.Section(name, _readable(written, name_of), prompt, written=True, hint=hint)
    return docs.Section(name, drafted, prompt, hint=hint)


def _milestones(incident: Incident) -> list[docs.Milestone]:
    steps = [
        ("Declared", incident.declared_at),
        ("Acknowledged by the incident manager", incident.acknowledged_at),
        ("Identified", incident.identified_at),
        ("Monitoring", incident.monitoring_at),
        ("Resolved", incident.resolved_at),
    ]
    found = [(label, at) for label, at in steps if at is not None]
    found.sort(key=lambda step: step[1])
    start = incident.declared_at
    return [docs.Milestone(label, at, (at - start).total_seconds()) for label, at in found]


def _since(start: datetime, at: datetime | None) -> float | None:
    return (at - start).total_seconds() if at is not None else None


def gather(
    session: Session, *, incident_id: int, name_of: NameOf = _no_names, now: datetime | None = None
) -> docs.Facts:
    """Everything the bot knows about the incident, as the templates see it."""
    now = now or utcnow()
    view = incidents.view(session, incident_id=incident_id)
    incident = view.incident
    pm = find(session, incident_id=incident_id) or PostMortem(incident_id=incident_id)

    def name(user_id: str | None) -> str:
        return (name_of(user_id) or user_id) if user_id else "nobody"

    updates = _updates(session, incident_id)
    identified = _status_update(updates, Status.IDENTIFIED)
    monitoring = _status_update(updates, Status.MONITORING)
    entries = tl.entries(session, incident_id=incident_id)
    items = action_items.of_incident(session, incident_id=incident_id)
    roles = [
        docs.RoleHolder(role.label, name(view.roles[role])) for role in Role if role in view.roles
    ]
    ids = people(session, incident_id=incident_id)
    participants = [name(u) for u in ids if u in {incident.declared_by, *view.roles.values()}]
    participants += [name(e.author) if _is_person(e.author) else "" for e in entries]
    participants += [name(u.author) for u in updates]
    participants = [p for p in dict.fromkeys(participants) if p]
    end = incident.resolved_at or now
    owner = pm.owner or view.manager
    return docs.Facts(
        incident=docs.IncidentFacts(
            number=incident.number,
            title=incident.title,
            severity=view.severity.label,
            severity_description=view.severity.description,
            status=view.status.label,
            declared_at=incident.declared_at,
            resolved_at=incident.resolved_at,
            duration=(end - incident.declared_at).total_seconds(),
            time_to_acknowledge=_since(incident.declared_at, incident.acknowledged_at),
            time_to_identify=_since(incident.declared_at, incident.identified_at),
            channel_name=incident.channel_name,
            declared_by=name(incident.declared_by),
            private=incident.private,
        ),
        summary=_section("summary", pm.summary, _summary(incident, name_of), "", name_of),
        impact=_section("impact", pm.impact, _readable(incident.impact, name_of), "", name_of),
        root_cause=_section(
            "root_cause",
            pm.root_cause,
            "",
            _readable(identified.message, name_of) if identified else "",
            name_of,
        ),
        resolution=_section(
            "resolution",
            pm.resolution,
            _readable(incident.resolution, name_of),
            _readable(monitoring.message, name_of) if monitoring else "",
            name_of,
        ),
        manager=name(view.manager),
        roles=roles,
        participants=participants,
        status_history=_milestones(incident),
        updates=[
            docs.UpdateFact(
                at=u.posted_at,
                author=name(u.author),
                text=_readable(u.message, name_of),
                status=Status(u.status).label if u.status else "",
            )
            for u in updates
        ],
        timeline=[tl.entry_markdown(entry) for entry in entries],
        timeline_markdown=docs.demote_headings(tl.markdown(session, incident_id=incident_id)),
        action_items=[
            docs.ActionFact(
                id=item.id or 0,
                text=_readable(item.text, name_of),
                owner=name(item.owner),
                due_on=item.due_on,
                state=item.state,
                permalink=item.permalink,
            )
            for item in items
        ],
        owner=name(owner),
        due_on=pm.due_on,
        completed_at=pm.completed_at,
        generated_at=now,
        private_words=[
            *{name(u) for u in ids},
            *(n for n in (incident.channel_name,) if n),
        ],
    )


def prefill(session: Session, *, incident_id: int, name_of: NameOf = _no_names) -> dict[str, str]:
    """What the edit form starts with: what was written, else what the bot knows."""
    incident = incidents.get(session, incident_id=incident_id)
    pm = find(session, incident_id=incident_id) or PostMortem(incident_id=incident_id)
    updates = _updates(session, incident_id)
    identified = _status_update(updates, Status.IDENTIFIED)
    first = updates[0].message if updates else ""
    last = updates[-1].message if updates else ""
    drafted = {
        "summary": incident.summary or first,
        "impact": incident.impact,
        "root_cause": identified.message if identified else "",
        "resolution": incident.resolution or last,
    }
    out: dict[str, str] = {}
    for name in SECTIONS:
        written = getattr(pm, name)
        out[name] = _readable(written if written is not None else drafted[name], name_of)
    return out


# -- changes ----------------------------------------------------------------------------------


def render(
    session: Session,
    *,
    incident_id: int,
    name_of: NameOf = _no_names,
    template_path: str = "",
    template_includes: tuple[str, ...] = (),
    now: datetime | None = None,
) -> PostMortem:
    """Draft the documents from the current facts and keep them (a new version if changed)."""
    now = now or utcnow()
    pm = ensure(session, incident_id=incident_id, now=now)
    facts = gather(session, incident_id=incident_id, name_of=name_of, now=now)
    document = docs.render(facts, template_path=template_path, includes=template_includes)
    customer = docs.render_customer(facts)
    changed = (document, customer) != (pm.document, pm.customer)
    if changed:
        pm.document, pm.customer, pm.version = document, customer, pm.version + 1
    pm.rendered_at = now
    session.add(pm)
    session.flush()
    if changed:  # every version stays readable (the console's earlier versions)
        session.add(
            PostmortemVersion(
                postmortem_id=pm.id or 0,
                incident_id=incident_id,
                version=pm.version,
                document=document,
                rendered_at=now,
            )
        )
        session.flush()
    return pm


def on_resolved(
    session: Session,
    *,
    incident_id: int,
    policy: FollowUpPolicy,
    actor: str,
    now: datetime | None = None,
) -> tuple[PostMortem, PostmortemOpened]:
    """A resolved incident's post-mortem gets its due date and its owner's reminder.

    `actor` is who resolved the incident.
    """
    now = now or utcnow()
    pm = ensure(session, incident_id=incident_id, now=now)
    incident = incidents.get(session, incident_id=incident_id)
    if pm.due_on is None and incident.resolved_at is not None:
        pm.due_on = policy.postmortem_due(incident.resolved_at)
        session.add(pm)
        session.flush()
    followups.plan(session, kind=Kind.POSTMORTEM, subject_id=pm.id or 0, policy=policy, now=now)
    event = PostmortemOpened(incident_id=incident_id, actor=actor, at=now, due_on=pm.due_on)
    return pm, event


@dataclass(frozen=True)
class Edit:
    """What the edit form submitted."""

    summary: str
    impact: str
    root_cause: str
    resolution: str
    owner: str | None
    due_on: date | None


def edit(
    session: Session,
    *,
    incident_id: int,
    changes: Edit,
    actor: str,
    policy: FollowUpPolicy,
    now: datetime | None = None,
) -> tuple[PostMortem, PostmortemEdited]:
    """Save the edit form (an emptied section goes back to the bot's draft)."""
    now = now or utcnow()
    errors: dict[str, str] = {}
    texts: dict[str, str] = {}
    for name in SECTIONS:
        label = name.replace("_", " ")
        try:
            texts[name] = inputs.clean_text(
                getattr(changes, name), field=name, name=label, max_chars=SECTION_MAX
            )
        except InvalidInput as exc:
            errors.update(exc.fields)
    if changes.owner:
        try:
            inputs.check_user_id(changes.owner, field="owner", name="post-mortem owner")
        except InvalidInput as exc:
            errors.update(exc.fields)
    if errors:
        raise InvalidInput("; ".join(errors.values()), fields=errors)
    pm = ensure(session, incident_id=incident_id, now=now)
    if changes.due_on is not None and changes.due_on != pm.due_on:
        action_items.check_due(changes.due_on, today=policy.today(now))
    for name in SECTIONS:
        setattr(pm, name, texts[name] or None)
    pm.owner = changes.owner or pm.owner
    pm.due_on = changes.due_on or pm.due_on
    pm.edited_by, pm.edited_at = actor, now
    session.add(pm)
    session.flush()
    followups.plan(session, kind=Kind.POSTMORTEM, subject_id=pm.id or 0, policy=policy, now=now)
    return pm, PostmortemEdited(incident_id=incident_id, actor=actor, at=now)


def complete(
    session: Session,
    *,
    incident_id: int,
    actor: str,
    policy: FollowUpPolicy,
    now: datetime | None = None,
) -> tuple[PostMortem, PostmortemCompleted | None]:
    """Mark the post-mortem complete (reminders stop); no event when it was complete already."""
    now = now or utcnow()
    incident = incidents.get(session, incident_id=incident_id)
    if incident.status != Status.RESOLVED.value:
        raise InvalidInput(
            f"Incident #{incident.number} is not resolved yet; resolve it before completing "
            "its post-mortem."
        )
    pm = ensure(session, incident_id=incident_id, now=now)
    if pm.completed_at is not None:
        return pm, None
    pm.completed_at, pm.completed_by = now, actor
    session.add(pm)
    session.flush()
    followups.plan(session, kind=Kind.POSTMORTEM, subject_id=pm.id or 0, policy=policy, now=now)
    return pm, PostmortemCompleted(incident_id=incident_id, actor=actor, at=now)


def record_post(
    session: Session, *, incident_id: int, channel_id: str, message_ts: str | None
) -> None:
    """Remember where the latest document was posted."""
    pm = find(session, incident_id=incident_id)
    if pm is not None:
        pm.channel_id, pm.message_ts = channel_id, message_ts
        session.add(pm)
