"""Every public artefact of the status page, rendered from one Snapshot.

HTML, feeds and the badge are Jinja2 templates with autoescaping on: text people typed is
escaped wherever it lands. The embed script carries its data as JSON made safe for a
script context and builds the widget with textContent, never innerHTML.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from bot.statuspage.snapshot import PublicComponent, PublicIncident, Snapshot
from bot.statuspage.uptime import Day
from bot.statuspage.vocabulary import ComponentStatus, MaintenanceStatus, PublicStatus
from web.statuspage import api

TEMPLATES = Path(__file__).parent / "templates"
FEED_MAX = 50
HISTORY_MONTHS_MIN = 3
HISTORY_MONTHS_MAX = 12

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html", "xml", "svg", "j2"], default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def label(kind: str, status: str) -> str:
    """`Investigating`, `In progress`..."""
    if kind == "maintenance":
        return MaintenanceStatus(status).label
    return PublicStatus(status).label


@dataclass(frozen=True)
class DayView:
    """One bar of the uptime history."""

    css: str
    date: str
    uptime: str
    lines: tuple[str, ...]
    detail: bool

    @property
    def text(self) -> str:
        """Everything the tooltip says, on one line (for title and aria-label)."""
        return " · ".join([self.date, self.uptime, *self.lines])


@dataclass(frozen=True)
class UptimeView:
    """A component's 90 bars and its percentage."""

    days: tuple[DayView, ...]
    percent: str
    summary: str


def _minutes(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def _percent(value: float | None) -> str:
    if value is None:
        return "no data"
    if value >= 100:
        return "100% uptime"
    return f"{min(value, 99.99):.2f}% uptime"


def _day(day: Day) -> DayView:
    worst = day.worst
    lines = [
        f"{status.label}: {_minutes(seconds)}"
        for status, seconds in sorted(day.seconds.items(), key=lambda kv: -kv[0].rank)
        if status is not ComponentStatus.OPERATIONAL and seconds > 0
    ]
    lines += [f"Incident: {name}" for name in day.incidents]
    if worst is None:
        lines = lines or ["No data"]
    elif not lines:
        lines = ["No downtime recorded"]
    return DayView(
        css=worst.value if worst is not None else "none",
        date=day.day.strftime("%d %b %Y"),
        uptime=_percent(day.uptime) if worst is not None else "",
        lines=tuple(lines),
        detail=bool(day.incidents) or worst not in (None, ComponentStatus.OPERATIONAL),
    )


def uptime_view(component: PublicComponent) -> UptimeView:
    """What the template shows for a component's uptime."""
    assert component.uptime is not None
    days = tuple(_day(d) for d in component.uptime.days)
    bad = sum(1 for d in days if d.detail)
    percent = _percent(component.uptime.uptime)
    return UptimeView(
        days=days,
        percent=percent,
        summary=f"{percent} over the last 90 days; {bad} days with incidents or downtime",
    )


class Renderer:
    """Renders one Snapshot: `base` is the URL prefix of links ('' for the live server)."""

    def __init__(self, snap: Snapshot, *, base: str = "", subscribe: bool = True) -> None:
        self.snap = snap
        self.base = base
        self.subscribe = subscribe
        self.tz = snap.config.timezone

    def fmt(self, at: datetime | None) -> str:
        """A time in the page's zone: `14 Mar 2025, 09:30 CET`."""
        if at is None:
            return ""
        return at.astimezone(self.tz).strftime("%d %b %Y, %H:%M %Z")

    def names(self, ids: tuple[str, ...]) -> str:
        """Component names for ids."""
        found = [c.name for i in ids if (c := self.snap.component(i)) is not None]
        return ", ".join(found)

    def _context(self, **extra: Any) -> dict[str, Any]:
        return {
            "page": self.snap.config,
            "snap": self.snap,
            "base": self.base,
            "subscribe": self.subscribe,
            "fmt": self.fmt,
            "label": label,
            "names": self.names,
            **extra,
        }

    def _render(self, template: str, **extra: Any) -> str:
        return _env.get_template(template).render(self._context(**extra))

    def status(self) -> str:
        """GET /status"""
        top = [c for c in self.snap.components if c.group_id is None]

        def children(group: PublicComponent) -> list[PublicComponent]:
            return [c for c in self.snap.components if c.group_id == group.id]

        return self._render("status.html.j2", top=top, children=children, uptime_view=uptime_view)

    def incident(self, incident: PublicIncident) -> str:
        """GET /status/incidents/<id>"""
        return self._render("incident.html.j2", incident=incident)

    def history(self) -> str:
        """GET /status/history: past incidents and maintenance by month, newest first."""
        past = [i for i in self.snap.incidents if not i.unresolved]
        past += [m for m in self.snap.maintenances if m.status == "completed"]
        past.sort(key=lambda i: i.started_at, reverse=True)
        now = self.snap.now.astimezone(self.tz)
        oldest = min((i.started_at.astimezone(self.tz) for i in past), default=now)
        count = (now.year - oldest.year) * 12 + now.month - oldest.month + 1
        count = max(HISTORY_MONTHS_MIN, min(HISTORY_MONTHS_MAX, count))
        months = []
        year, month = now.year, now.month
        for _ in range(count):
            items = [
                i
                for i in past
                if (i.started_at.astimezone(self.tz).year, i.started_at.astimezone(self.tz).month)
                == (year, month)
            ]
            months.append((datetime(year, month, 1).strftime("%B %Y"), items))
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        return self._render("history.html.j2", months=months)

    def message(self, heading: str, text: str = "", *, error: bool = False, **form: Any) -> str:
        """A small page: a result, or a confirm/unsubscribe button."""
        values = {"action": "", "token": "", "button": "", **form}
        return self._render("message.html.j2", heading=heading, text=text, error=error, **values)

    def subscribe_form(
        self, *, text: str = "", error: bool = False, email: str = "", chosen: tuple[str, ...] = ()
    ) -> str:
        """GET /status/subscribe"""
        return self._render(
            "subscribe.html.j2",
            text=text,
            error=error,
            email=email,
            chosen=chosen,
            components=self.snap.leaves,
        )

    def embed_html(self) -> str:
        """GET /embed: the iframe widget."""
        return self._render("embed.html.j2")

    def _feed_items(self) -> list[PublicIncident]:
        items = [*self.snap.incidents, *self.snap.maintenances]
        items.sort(key=lambda i: i.updated_at, reverse=True)
        return items[:FEED_MAX]

    def feed_html(self, incident: PublicIncident) -> str:
        """An entry's content as HTML (escaped again by the feed's XML escaping)."""
        parts = [
            Markup("<p><small>{}</small><br><strong>{}</strong> - {}</p>").format(
                self.fmt(u.created_at), label(incident.kind, u.status), u.body
            )
            for u in incident.updates
        ]
        if incident.component_ids:
            parts.append(Markup("<p>Affected: {}</p>").format(self.names(incident.component_ids)))
        return str(Markup("").join(parts))

    def atom(self) -> str:
        """GET /history.atom"""
        return self._render(
            "atom.xml.j2", items=self._feed_items(), rfc3339=_rfc3339, feed_html=self.feed_html
        )

    def rss(self) -> str:
        """GET /history.rss"""
        return self._render(
            "rss.xml.j2", items=self._feed_items(), rfc822=_rfc822, feed_html=self.feed_html
        )

    def badge(self) -> str:
        """GET /badge.svg"""
        text = self.snap.description
        left = 50
        right = 12 + 7 * len(text)
        color = {
            "none": "#1a7f37",
            "minor": "#9a6700",
            "major": "#bc4c00",
            "critical": "#cf222e",
            "maintenance": "#0969da",
        }[self.snap.indicator.value]
        return _env.get_template("badge.svg.j2").render(
            label="status", text=text, left=left, right=right, width=left + right, color=color
        )

    def embed_js(self) -> str:
        """GET /embed/status.js: a script tag that draws the status on any site."""
        data = {
            "url": f"{self.snap.config.url}/status",
            "api": f"{self.snap.config.url}/api/v2/summary.json",
            "summary": api.files(self.snap)["/api/v2/summary.json"],
        }
        return EMBED_JS.replace("__DATA__", script_json(data))

    def api_files(self) -> dict[str, str]:
        """Every API file, serialised."""
        return {
            path: json.dumps(body, ensure_ascii=False, separators=(",", ":"))
            for path, body in api.files(self.snap).items()
        }


def script_json(value: Any) -> str:
    """JSON that can sit inside a <script> (no `</script>`, no HTML comment, no U+2028)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _rfc822(at: datetime) -> str:
    return format_datetime(at.astimezone(UTC), usegmt=True)


EMBED_JS = """(function () {
  "use strict";
  var DATA = __DATA__;
  var COLORS = {none: "#1a7f37", minor: "#9a6700", major: "#bc4c00", critical: "#cf222e",
                maintenance: "#0969da"};
  var script = document.currentScript;
  function el(tag, text, style) {
    var node = document.createElement(tag);
    if (text) { node.textContent = text; }
    if (style) { node.setAttribute("style", style); }
    return node;
  }
  function draw(host, summary) {
    while (host.firstChild) { host.removeChild(host.firstChild); }
    var link = el("a", "", "display:block;padding:.5rem .75rem;border:1px solid #d1d9e0;" +
      "border-radius:.5rem;color:inherit;text-decoration:none;font:14px/1.4 system-ui,sans-serif");
    link.href = DATA.url;
    link.target = "_blank";
    link.rel = "noopener";
    var status = summary.status || {};
    var head = el("strong", "");
    var dot = el("span", "", "display:inline-block;width:.7em;height:.7em;border-radius:50%;" +
      "margin-right:.4em;background:" + (COLORS[status.indicator] || COLORS.none));
    dot.setAttribute("aria-hidden", "true");
    head.appendChild(dot);
    head.appendChild(document.createTextNode(status.description || ""));
    head.setAttribute("data-indicator", status.indicator || "none");
    link.appendChild(head);
    var items = (summary.incidents || []).concat((summary.scheduled_maintenances || [])
      .filter(function (m) { return m.status === "in_progress" || m.status === "verifying"; }));
    if (items.length) {
      var list = el("ul", "", "margin:.3rem 0 0;padding-left:1.2rem");
      items.forEach(function (item) {
        var last = (item.incident_updates || [])[0];
        list.appendChild(el("li", item.name + (last ? " \\u2013 " + last.body : "")));
      });
      link.appendChild(list);
    }
    host.appendChild(link);
  }
  var host = document.getElementById("statuspage-embed");
  if (!host) {
    host = document.createElement("div");
    if (script && script.parentNode) { script.parentNode.insertBefore(host, script.nextSibling); }
    else { document.body.appendChild(host); }
  }
  host.className = (host.className ? host.className + " " : "") + "statuspage-embed";
  draw(host, DATA.summary);
  if (window.fetch) {
    setInterval(function () {
      fetch(DATA.api, {cache: "no-cache"}).then(function (r) { return r.json(); })
        .then(function (summary) { draw(host, summary); })
        .catch(function () {});
    }, 60000);
  }
})();
"""


RENDERERS: dict[str, Callable[[Renderer], str]] = {
    "/status": Renderer.status,
    "/status/history": Renderer.history,
    "/history.atom": Renderer.atom,
    "/history.rss": Renderer.rss,
    "/badge.svg": Renderer.badge,
    "/embed": Renderer.embed_html,
    "/embed/status.js": Renderer.embed_js,
}
CONTENT_TYPES = {
    "/status": "text/html; charset=utf-8",
    "/status/history": "text/html; charset=utf-8",
    "/history.atom": "application/atom+xml; charset=utf-8",
    "/history.rss": "application/rss+xml; charset=utf-8",
    "/badge.svg": "image/svg+xml; charset=utf-8",
    "/embed": "text/html; charset=utf-8",
    "/embed/status.js": "application/javascript; charset=utf-8",
}
