"""The status page from Slack: its fields in the declare, update and resolve forms,
`/incident statuspage`, `/incident maintenance` and `/incident component`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk.models.blocks import Block
from sqlmodel import Session, col, select

from blocks import statuspage as sp_blocks
from blocks.incident import headline
from blocks.payloads import IncidentForm
from bot import drills, incidents
from bot.core.errors import InvalidInput
from bot.core.events import StatusPagePublished
from bot.permissions.policy import Permission
from bot.slack.services import Services
from bot.stakeholders import social
from bot.statuspage import components, maintenance, publish
from bot.statuspage.config import PageConfig
from bot.statuspage.vocabulary import ComponentStatus, PublicStatus, split_status_suffix
from handlers.access import on_view
from handlers.commands import route
from handlers.context import CommandRequest, Scope, readable, scope_of, services_of
from handlers.forms import state_value
from storage.models import Incident
from storage.models_statuspage import StatusIncident, StatusIncidentUpdate
from storage.types import utcnow

F = publish  # the status page fields' block ids live with their validation


def config_of(services: Services) -> PageConfig:
    """The status page configuration, or a clear error when there is none."""
    config = services.settings.status_page
    if config is None:
        raise InvalidInput("There is no status page: set STATUS_PAGE_FILE to turn it on.")
    return config


def _selected(view: dict[str, Any], field: str) -> list[str] | None:
    element = view.get("state", {}).get("values", {}).get(field, {}).get(field)
    if not element:
        return None
    return [str(o.get("value")) for o in element.get("selected_options") or []]


def _text(view: dict[str, Any], field: str) -> str:
    return str(state_value(view, field) or "")


# -- the declare, update and resolve forms ----------------------------------------------


def form_fields(services: Services, *, incident_id: int | None = None) -> list[Block]:
    """The status page fields of the declare and update forms (none without a status page)."""
    config = services.settings.status_page
    if config is None:
        return []
    selected: list[str] = []
    status: str | None = None
    url: str | None = None
    if incident_id is not None:
        with services.db.read() as session:
            row = publish.public_of(session, incident_id=incident_id)
            if row is not None:
                url = publish.incident_url(config, row)
                selected = [i for i in row.component_ids.split(",") if i]
                statuses = [c.status for i in selected if (c := _component(session, i)) is not None]
                bad = [s for s in statuses if s != ComponentStatus.OPERATIONAL.value]
                status = max(bad, key=lambda s: ComponentStatus(s).rank) if bad else None
    return list(sp_blocks.form_fields(config, selected=selected, status=status, on_page_url=url))


def _component(session: Session, component_id: str) -> Any:
    try:
        return components.get(session, component_id)
    except Exception:
        return None


def resolve_fields(services: Services, *, incident_id: int) -> list[Block]:
    """The final public message fields, when the incident is on the page."""
    config = services.settings.status_page
    if config is None:
        return []
    with services.db.read() as session:
        row = publish.public_of(session, incident_id=incident_id)
    if row is None or row.status == "resolved":
        return []
    return list(sp_blocks.resolve_fields(config, on_page_url=publish.incident_url(config, row)))


def publication_of(
    services: Services, view: dict[str, Any], *, private: bool = False
) -> publish.Publication | None:
    """What the form's status page fields ask to publish (InvalidInput names bad fields)."""
    config = services.settings.status_page
    if config is None:
        return None
    return publish.validate(
        config,
        message=_text(view, F.F_MESSAGE),
        component_ids=_selected(view, F.F_COMPONENTS),
        component_status=state_value(view, F.F_STATUS),
        private=private,
    )


def publishes(view: dict[str, Any]) -> bool:
    """True when a declare or update form's status page fields ask to publish something
    (a message, components or their status): that needs Permission.STATUS_PAGE."""
    values = view.get("state", {}).get("values", {})
    if not any(field in values for field in (F.F_MESSAGE, F.F_COMPONENTS, F.F_STATUS)):
        return False
    return bool(
        _text(view, F.F_MESSAGE).strip()
        or _selected(view, F.F_COMPONENTS)
        or state_value(view, F.F_STATUS)
    )


def update_need(scope: Scope, body: dict[str, Any]) -> Permission:
    """The update form: responders post updates; publishing too needs STATUS_PAGE."""
    return Permission.STATUS_PAGE if publishes(body.get("view") or {}) else Permission.RESPOND


def declare_need(scope: Scope, body: dict[str, Any]) -> Permission:
    """The declare form: anyone declares; publishing too needs STATUS_PAGE (decided on the
    incident as it will be: bot.permissions.decide_declaring)."""
    return Permission.STATUS_PAGE if publishes(body.get("view") or {}) else Permission.ANYONE


def publish_in(
    session: Session,
    services: Services,
    *,
    incident: Incident,
    publication: publish.Publication | None,
    actor: str,
) -> StatusIncident | None:
    """Publish in the caller's transaction (the incident change's) and plan its Mastodon
    post; a drill's update is recorded for its score instead (the status page refuses
    drills). The public incident back, None when nothing was published."""
    if publication is None:
        return None
    if incident.is_drill:
        drills.record_statuspage(session, incident=incident, message=publication.message)
        return None
    row = publish.publish(
        session,
        config=config_of(services),
        incident=incident,
        publication=publication,
        actor=actor,
    )
    plan_social(session, services, incident=incident, row=row)
    return row


def plan_social(
    session: Session, services: Services, *, incident: Incident, row: StatusIncident | None
) -> None:
    """With Mastodon set up, the newest public update waits for the incident manager's
    approval (a held post and its preview, bot.stakeholders.social), in this transaction."""
    settings = services.settings
    if row is None or row.id is None or not settings.mastodon_access_token:
        return
    update = session.exec(
        select(StatusIncidentUpdate)
        .where(StatusIncidentUpdate.status_incident_id == row.id)
        .order_by(col(StatusIncidentUpdate.id).desc())
    ).first()
    if update is None:
        return
    text = social.draft(
        row.name,
        PublicStatus(update.status).label,
        update.body,
        publish.incident_url(config_of(services), row),
    )
    social.plan_post(
        session, incident=incident, ref=f"statuspage:{update.id}", text=text, now=update.created_at
    )


def resolve_in(
    session: Session, services: Services, *, incident: Incident, view: dict[str, Any], actor: str
) -> None:
    """The resolve form's public side, in the resolve's transaction."""
    if services.settings.status_page is None or incident.id is None:
        return
    if publish.public_of(session, incident_id=incident.id) is None:
        return
    message = _text(view, F.F_MESSAGE).strip()
    if not message:
        raise InvalidInput(
            "Write the final message customers read.",
            fields={F.F_MESSAGE: "Write the final message customers read."},
        )
    status_value = state_value(view, F.F_STATUS) or ComponentStatus.OPERATIONAL.value
    resolved = publish.resolve(
        session,
        incident=incident,
        message=message,
        component_status=ComponentStatus(status_value),
        actor=actor,
    )
    plan_social(session, services, incident=incident, row=resolved)


def follow_in(session: Session, services: Services, *, incident: Incident, actor: str) -> None:
    """After a status change without a form: resolve the public side if it was resolved."""
    if services.settings.status_page is not None:
        row = publish.follow_incident(session, incident=incident, actor=actor)
        plan_social(session, services, incident=incident, row=row)


# -- /incident statuspage -------------------------------------------------------------------

DRILL_NOT_PUBLISHED = (
    ":performing_arts: This is a drill: nothing was published on the status page. Your update "
    "is recorded for the drill's score."
)


@route("statuspage", need=Permission.STATUS_PAGE)
def statuspage_command(request: CommandRequest) -> None:
    """`/incident statuspage <message>` publishes; without a message it opens the form."""
    services = request.services
    config = config_of(services)
    with services.db.read() as session:
        incident = incidents.get(session, incident_id=request.scope.incident_id)
        assert incident.id is not None
        view = incidents.view(session, incident_id=incident.id)
        row = publish.public_of(session, incident_id=incident.id)
    if not request.args.strip():
        selected = [i for i in row.component_ids.split(",") if i] if row else []
        request.client.views_open(
            trigger_id=request.trigger_id,
            view=sp_blocks.statuspage_modal(
                config,
                incident_id=incident.id,
                headline=headline(view),
                title=row.name if row else incident.title,
                selected=selected,
                on_page_url=publish.incident_url(config, row) if row else None,
            ),
        )
        return
    publication = publish.validate(
        config,
        message=readable(services, request.args),  # Slack sent `<` as `&lt;`: stored as typed
        component_ids=None,
        component_status=None,
        private=False,
    )
    assert publication is not None
    _publish_and_tell(services, incident.id, publication, request.user_id)
    if incident.is_drill:
        request.respond(text=DRILL_NOT_PUBLISHED, response_type="ephemeral")


def _publish_and_tell(
    services: Services, incident_id: int, publication: publish.Publication, actor: str
) -> None:
    """Publish, and in the same transaction write the deliveries that say so in the channel
    and bring the card, topic and broadcast line up to date (the outbox sends them)."""
    config = config_of(services)

    def operation(session: Session) -> StatusPagePublished | None:
        incident = incidents.get(session, incident_id=incident_id)
        row = publish_in(session, services, incident=incident, publication=publication, actor=actor)
        if row is None:  # a drill: recorded for its score, never published
            return None
        return StatusPagePublished(
            incident_id=incident_id,
            actor=actor,
            at=utcnow(),
            message=publication.message,
            url=publish.incident_url(config, row),
        )

    services.apply(operation)


def submit_statuspage(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext
) -> None:
    """The status page form: title, components, their status, message."""
    services = services_of(context)
    incident_id = scope_of(context).expect(IncidentForm).incident_id
    try:
        config = config_of(services)
        with services.db.read() as session:
            private = incidents.get(session, incident_id=incident_id).private
        publication = publish.validate(
            config,
            message=_text(view, F.F_MESSAGE),
            component_ids=_selected(view, F.F_COMPONENTS),
            component_status=state_value(view, F.F_STATUS),
            title=_text(view, F.F_TITLE),
            private=private,
            require_message=True,
        )
    except InvalidInput as exc:
        ack(response_action="errors", errors=exc.fields or {F.F_MESSAGE: str(exc)})
        return
    assert publication is not None
    ack()
    _publish_and_tell(services, incident_id, publication, body["user"]["id"])


# -- /incident maintenance --------------------------------------------------------------


@route("maintenance", need=Permission.ADMIN)  # no incident: incident admins
def maintenance_command(request: CommandRequest) -> None:
    """`/incident maintenance` opens the scheduling form."""
    config = config_of(request.services)
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    request.client.views_open(
        trigger_id=request.trigger_id,
        view=sp_blocks.maintenance_modal(config, starts=start, ends=start + timedelta(hours=1)),
    )


def _when(view: dict[str, Any], field: str) -> datetime | None:
    value = state_value(view, field)
    element = view.get("state", {}).get("values", {}).get(field, {}).get(field) or {}
    value = element.get("selected_date_time", value)
    if value in (None, ""):
        return None
    return datetime.fromtimestamp(int(value), UTC)


def submit_maintenance(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext
) -> None:
    """Schedule the maintenance; it runs by itself."""
    services = services_of(context)
    user = body["user"]["id"]
    try:
        config = config_of(services)
        with services.db.session() as session:
            maintenance.schedule(
                session,
                config=config,
                title=_text(view, F.F_TITLE),
                message=_text(view, F.F_MESSAGE),
                component_ids=_selected(view, F.F_COMPONENTS) or [],
                starts_at=_when(view, maintenance.F_START),
                ends_at=_when(view, maintenance.F_END),
                actor=user,
            )
    except InvalidInput as exc:
        ack(response_action="errors", errors=exc.fields or {F.F_TITLE: str(exc)})
        return
    ack()


# -- /incident component ----------------------------------------------------------------


@route("component", need=Permission.ADMIN)  # no incident: incident admins
def component_command(request: CommandRequest) -> None:
    """`/incident component <name> <status>`: change a component without an incident."""
    services = request.services
    config = config_of(services)
    if not request.args.strip():
        with services.db.read() as session:
            rows = [c for c in components.active(session) if not c.is_group]
        lines = "\n".join(f"• {c.name}: {ComponentStatus(c.status).label}" for c in rows)
        request.respond(
            text=f"Components of {config.name}:\n{lines}\nChange one with "
            "`/incident component &lt;name&gt; &lt;status&gt;`.",
            response_type="ephemeral",
        )
        return
    name, status = split_status_suffix(request.args)
    with services.db.session() as session:
        change = components.set_manually(session, config=config, name=name, status=status)
    request.respond(
        text=f":white_check_mark: {change.name} is now *{status.label.lower()}* on "
        f"<{config.url}/status|{config.name}>.",
        response_type="ephemeral",
    )


def register(app: App) -> None:
    """Register the status page forms."""
    on_view(app, sp_blocks.STATUSPAGE_MODAL, submit_statuspage, need=Permission.STATUS_PAGE)
    on_view(app, sp_blocks.MAINTENANCE_MODAL, submit_maintenance, need=Permission.ADMIN)
