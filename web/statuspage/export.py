"""`python app.py export-status DIR`: the whole public page as static files, for a CDN or a
bucket. Paths mirror the live server's (`status/index.html` for /status, `api/v2/...json`),
links point at the page's configured URL, and the subscription form is left out (it needs
the bot)."""

from __future__ import annotations

import sys
from pathlib import Path

from bot.settings import Settings
from bot.statuspage import components, snapshot
from bot.statuspage.config import PageConfig
from storage import Database
from storage.types import utcnow
from web.statuspage.render import RENDERERS, Renderer

FILES = {
    "/status": "status/index.html",
    "/status/history": "status/history/index.html",
    "/history.atom": "history.atom",
    "/history.rss": "history.rss",
    "/badge.svg": "badge.svg",
    "/embed": "embed/index.html",
    "/embed/status.js": "embed/status.js",
}


def export(db: Database, config: PageConfig, directory: Path) -> list[Path]:
    """Write every file under `directory`; returns the files written."""
    with db.read() as session:
        snap = snapshot.load(session, config=config, now=utcnow())
    renderer = Renderer(snap, base=config.url, subscribe=False)
    outputs: dict[str, str] = {}
    for path, render in RENDERERS.items():
        outputs[FILES[path]] = render(renderer)
    for path, body in renderer.api_files().items():
        outputs[path.lstrip("/")] = body
    for incident in (*snap.incidents, *snap.maintenances):
        outputs[f"status/incidents/{incident.id}/index.html"] = renderer.incident(incident)
    outputs["index.html"] = (
        '<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0; url=status/">'
        f'<title>{config.name}</title><a href="status/">Current status</a>'
    ).replace(config.name, _escape(config.name))
    written = []
    for relative, text in sorted(outputs.items()):
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


def _escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


def export_command(settings: Settings, directory: str | None) -> int:
    """The command line's export-status: 0 when written, 2 on a usage or config problem."""
    config = settings.status_page
    if config is None:
        print("export-status needs STATUS_PAGE_FILE (the status page is off).", file=sys.stderr)
        return 2
    if not directory:
        print("usage: python app.py export-status DIR", file=sys.stderr)
        return 2
    db = Database(settings.database_url)
    try:
        db.migrate()
        with db.session() as session:
            components.sync(session, config)
        written = export(db, config, Path(directory))
    finally:
        db.dispose()
    print(f"wrote {len(written)} files to {directory}")
    return 0
