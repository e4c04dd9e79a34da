"""The incident library's pages: incidents, one incident, post-mortems and action items.

Plain HTML forms and links (no JavaScript needed). Each page asks the Slack side once which
private incident channels the person is in, and every query filters by it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot import library
from bot.core import slack_text
from bot.core.errors import InvalidInput, NotFound
from bot.core.vocabulary import Role, Severity, Status
from bot.followups.policy import FollowUpPolicy
from bot.library import tags
from bot.permissions.visibility import private_channels
from bot.slack.services import Services
from storage.types import utcnow
from web.console.auth import Auth, redirect
from web.console.render import SECURITY_HEADERS, markdown_html, page
from web.console.session import Viewer


@dataclass
class Pages:
    """The library's routes, for one running bot."""

    services: Services
    auth: Auth

    # -- helpers -------------------------------------------------------------------------------

    def member_channels(self, viewer: Viewer) -> frozenset[str]:
        """The private incident channels `viewer` is in (bot.slack.membership, cached)."""
        with self.services.db.read() as session:
            channels = private_channels(session)
        if viewer.user_id in self.services.access.admins():
            return frozenset(channels)  # incident admins see every incident
        return self.services.members.channels_of(viewer.user_id, channels)

    def name(self, user_id: str | None) -> str:
        """A person's display name, or their id when Slack does not say."""
        if not user_id:
            return "nobody"
        return self.services.directory.user_name(user_id) or user_id

    def readable(self, text: str) -> str:
        """Slack markup (mentions, links) as plain text; the template escapes it."""
        return slack_text.render(text or "", user_name=self.services.directory.user_name)

    def common(self, viewer: Viewer, section: str) -> dict[str, Any]:
        """What every page's layout needs."""
        return {
            "viewer": viewer,
            "section": section,
            "name": self.name,
            "readable": self.readable,
            "statuses": list(Status),
            "severities": list(Severity),
        }

    @staticmethod
    def not_found(viewer: Viewer, message: str) -> Response:
        return page("not_found.html", status_code=404, viewer=viewer, section="", message=message)

    # -- pages ---------------------------------------------------------------------------------

    def index(self, request: Request, viewer: Viewer) -> Response:
        return redirect("/console/incidents")

    def incidents(self, request: Request, viewer: Viewer) -> Response:
        """GET /console/incidents: filters, text search, pages of 50."""
        errors: dict[str, str] = {}
        try:
            filters = library.parse_filters(request.query_params)
        except InvalidInput as exc:
            errors, filters = exc.fields, library.Filters()
        channels = self.member_channels(viewer)
        with self.services.db.read() as session:
            components = tags.components(session)
            if filters.component and filters.component not in dict(components):
                errors["component"] = f"There is no component `{filters.component}`."
                filters = library.Filters()
            found = library.search(session, filters, member_channels=channels)
            tagged = tags.tags_of(session, [v.incident.id or 0 for v in found.views])
            choices = tags.tag_counts(session, channels)
        return page(
            "incidents.html",
            status_code=400 if errors else 200,
            errors=errors,
            filters=filters,
            raw=dict(request.query_params),
            result=found,
            tagged=tagged,
            components=components,
            tag_choices=choices,
            **self.common(viewer, "incidents"),
        )

    def incident(self, request: Request, viewer: Viewer) -> Response:
        """GET /console/incidents/<number>[?version=N]"""
        number = int(request.path_params["number"])
        channels = self.member_channels(viewer)
        version_text = request.query_params.get("version", "")
        try:
            with self.services.db.read() as session:
                found = library.detail(session, number=number, member_channels=channels)
                incident_tags = tags.tags_of(session, [found.view.incident.id or 0])
                shown = None
                if version_text:
                    if not version_text.isdigit():
                        raise NotFound(f"`{version_text}` is not a version number.")
                    shown = library.postmortem_version(
                        session, number=number, version=int(version_text), member_channels=channels
                    )
        except NotFound as exc:
            return self.not_found(viewer, str(exc))
        pm = found.postmortem
        document = shown.document if shown else (pm.document if pm else "")
        return page(
            "incident.html",
            detail=found,
            incident=found.view.incident,
            roles=[(role, found.view.roles[role]) for role in Role if role in found.view.roles],
            milestones=_milestones(found.view.incident),
            tags=incident_tags.get(found.view.incident.id or 0, []),
            shown_version=shown.version if shown else (pm.version if pm else 0),
            document_html=markdown_html(document) if document else None,
            **self.common(viewer, "incidents"),
        )

    def download(self, request: Request, viewer: Viewer) -> Response:
        """GET /console/incidents/<number>/postmortem.md|.html[?version=N]"""
        number = int(request.path_params["number"])
        kind = request.path_params["kind"]
        if kind not in ("md", "html"):
            return self.not_found(viewer, "Post-mortems download as .md or .html.")
        version_text = request.query_params.get("version", "")
        channels = self.member_channels(viewer)
        try:
            with self.services.db.read() as session:
                found = library.detail(session, number=number, member_channels=channels)
                if version_text:
                    if not version_text.isdigit():
                        raise NotFound(f"`{version_text}` is not a version number.")
                    kept = library.postmortem_version(
                        session, number=number, version=int(version_text), member_channels=channels
                    )
                    document, version = kept.document, kept.version
                elif found.postmortem is not None and found.postmortem.document:
                    document, version = found.postmortem.document, found.postmortem.version
                else:
                    raise NotFound(f"Incident #{number} has no post-mortem yet.")
        except NotFound as exc:
            return self.not_found(viewer, str(exc))
        filename = f"incident-{number}-postmortem-v{version}.{kind}"
        headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'}
        if kind == "md":
            return Response(document, media_type="text/markdown; charset=utf-8", headers=headers)
        title = f"Incident #{number}: {found.view.incident.title} — post-mortem v{version}"
        html = page("postmortem_download.html", title=title, body=markdown_html(document)).body
        return Response(html, media_type="text/html; charset=utf-8", headers=headers)

    def postmortems(self, request: Request, viewer: Viewer) -> Response:
        """GET /console/postmortems: the library, overdue first, and the action items."""
        state = request.query_params.get("items", "open")
        if state not in ("open", "done", "all"):
            state = "open"
        policy = FollowUpPolicy.from_settings(self.services.settings)
        today = policy.today(utcnow())
        channels = self.member_channels(viewer)
        with self.services.db.read() as session:
            rows = library.postmortems(session, member_channels=channels, today=today)
            items = library.action_items(session, member_channels=channels, state=state)
            tagged = tags.tags_of(session, [row.incident.id or 0 for row in rows])
        return page(
            "postmortems.html",
            rows=rows,
            tagged=tagged,
            items=items,
            items_state=state,
            today=today,
            **self.common(viewer, "postmortems"),
        )

    def routes(self) -> list[Route]:
        """The library's routes; each needs a session."""
        guard: Callable[..., Any] = self.auth.signed_in
        return [
            Route("/", guard(self.index), methods=["GET"]),
            Route("/incidents", guard(self.incidents), methods=["GET"]),
            Route("/incidents/{number:int}", guard(self.incident), methods=["GET"]),
            Route(
                "/incidents/{number:int}/postmortem.{kind:str}",
                guard(self.download),
                methods=["GET"],
            ),
            Route("/postmortems", guard(self.postmortems), methods=["GET"]),
        ]


def _milestones(incident: Any) -> list[tuple[str, Any, float | None]]:
    start = incident.declared_at
    detected = []  # the first alert, before the declaration (its time to detect)
    if incident.detected_at is not None:
        detected = [("Detected (first alert)", incident.detected_at)]
    steps = [
        *detected,
        ("Declared", incident.declared_at),
        ("Acknowledged", incident.acknowledged_at),
        ("Identified", incident.identified_at),
        ("Mitigated (monitoring)", incident.monitoring_at),
        ("Resolved", incident.resolved_at),
    ]
    return [(label, at, (at - start).total_seconds() if at else None) for label, at in steps]
