"""The status page in memory: rendered once per change, served as bytes.

A background thread keeps it current: it re-renders when this process commits a change
(told at once by bot.statuspage.state), when the page's version in the database moved
(another replica changed it; one cheap read every STATUS_PAGE_REFRESH_SECONDS), and once a
minute anyway (today's uptime bar grows). Requests only ever read the finished dict.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from bot.statuspage import snapshot, state
from bot.statuspage.config import PageConfig
from bot.statuspage.snapshot import Snapshot
from storage import Database
from storage.types import utcnow
from web.statuspage.render import CONTENT_TYPES, RENDERERS, Renderer

log = logging.getLogger(__name__)

PAGE_CACHE_CONTROL = "public, max-age=15, stale-while-revalidate=30, stale-if-error=86400"
API_CACHE_CONTROL = "public, max-age=10, stale-while-revalidate=20, stale-if-error=86400"
RERENDER_EVERY = 60.0
INCIDENT_PAGES_MAX = 500
JSON = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Artefact:
    """One response, ready to send: headers for 200 (plain, gzip) and for 304."""

    body: bytes
    gzipped: bytes
    etag: bytes
    last_modified: datetime
    headers: list[tuple[bytes, bytes]]
    gzip_headers: list[tuple[bytes, bytes]]
    not_modified_headers: list[tuple[bytes, bytes]]


def make_artefact(
    body: str, *, content_type: str, changed_at: datetime, cors: bool, cache_control: str
) -> Artefact:
    """Bytes and headers for one rendered file."""
    raw = body.encode("utf-8")
    packed = gzip.compress(raw, compresslevel=6, mtime=0)
    etag = f'"{hashlib.sha256(raw).hexdigest()[:20]}"'.encode()
    last_modified = format_datetime(changed_at, usegmt=True).encode()
    common = [
        (b"etag", etag),
        (b"last-modified", last_modified),
        (b"cache-control", cache_control.encode()),
        (b"vary", b"Accept-Encoding"),
        (b"x-content-type-options", b"nosniff"),
    ]
    if cors:
        common.append((b"access-control-allow-origin", b"*"))
    typed = [(b"content-type", content_type.encode()), *common]
    return Artefact(
        body=raw,
        gzipped=packed,
        etag=etag,
        last_modified=changed_at.replace(microsecond=0),
        headers=[*typed, (b"content-length", str(len(raw)).encode())],
        gzip_headers=[
            *typed,
            (b"content-encoding", b"gzip"),
            (b"content-length", str(len(packed)).encode()),
        ],
        not_modified_headers=common,
    )


def render_all(snap: Snapshot, *, subscribe: bool = True) -> dict[str, Artefact]:
    """Every cached path of the page, API and feeds."""
    renderer = Renderer(snap, subscribe=subscribe)
    out: dict[str, Artefact] = {}
    for path, render in RENDERERS.items():
        cors = path in ("/embed/status.js", "/badge.svg")
        out[path] = make_artefact(
            render(renderer),
            content_type=CONTENT_TYPES[path],
            changed_at=snap.changed_at,
            cors=cors,
            cache_control=PAGE_CACHE_CONTROL,
        )
    for path, body in renderer.api_files().items():
        out[path] = make_artefact(
            body,
            content_type=JSON,
            changed_at=snap.changed_at,
            cors=True,
            cache_control=API_CACHE_CONTROL,
        )
    return out


class PageCache:
    """The rendered page of one process, kept current by a background thread."""

    def __init__(
        self,
        db: Database,
        config: PageConfig,
        *,
        refresh_seconds: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.config = config
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self.artefacts: dict[str, Artefact] = {}
        self.snapshot: Snapshot | None = None
        self.version = -1
        self.renders = 0
        self._incidents: dict[str, Artefact] = {}
        self._rendered_at = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._unlisten: Callable[[], None] | None = None

    def start(self) -> None:
        """Render now, then keep current in the background."""
        self.refresh()
        self._unlisten = state.on_change(self.wake)
        self._thread = threading.Thread(target=self._run, name="statuspage-cache", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread."""
        if self._unlisten is not None:
            self._unlisten()
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def wake(self) -> None:
        """Look at the database now (a change was committed in this process)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.refresh_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.check()
            except Exception:
                log.exception("could not refresh the status page; serving the last one")

    def check(self) -> bool:
        """Re-render if the page's version moved or the render is old; True if it did."""
        with self.db.read() as session:
            version, _ = state.version(session)
        stale = time.monotonic() - self._rendered_at > RERENDER_EVERY
        if version != self.version or stale:
            self.refresh()
            return True
        return False

    def refresh(self) -> None:
        """Read and render everything; requests see the new files at once, all together."""
        with self._lock:
            with self.db.read() as session:
                snap = snapshot.load(session, config=self.config, now=self.clock())
            artefacts = render_all(snap)
            self.snapshot, self.artefacts, self._incidents = snap, artefacts, {}
            self.version = snap.version
            self._rendered_at = time.monotonic()
            self.renders += 1

    def incident(self, public_id: str) -> Artefact | None:
        """One incident's page (rendered on first request after each change)."""
        found = self._incidents.get(public_id)
        if found is not None:
            return found
        snap = self.snapshot
        if snap is None:
            return None
        incident = next(
            (i for i in (*snap.incidents, *snap.maintenances) if i.id == public_id), None
        )
        if incident is None:
            with self.db.read() as session:
                incident = snapshot.one(session, public_id=public_id)
        if incident is None:
            return None
        artefact = make_artefact(
            Renderer(snap).incident(incident),
            content_type="text/html; charset=utf-8",
            changed_at=snap.changed_at,
            cors=False,
            cache_control=PAGE_CACHE_CONTROL,
        )
        if len(self._incidents) < INCIDENT_PAGES_MAX:
            self._incidents[public_id] = artefact
        return artefact
