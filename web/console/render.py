"""Server-rendered pages: one Jinja2 environment (autoescaped) and Markdown as safe HTML.

Everything people typed reaches a page through Jinja2's autoescape; post-mortems (Markdown)
go through markdown-it with raw HTML disabled, so a `<script>` in a section is shown as text
and `javascript:` links are dropped.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from markdown_it import MarkdownIt
from markupsafe import Markup
from starlette.responses import HTMLResponse

from bot.postmortems.docs import duration

TEMPLATES = Path(__file__).parent / "templates"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

_markdown = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def markdown_html(text: str) -> Markup:
    """Markdown as HTML, with any HTML in the text escaped."""
    return Markup(_markdown.render(text or ""))  # raw HTML is disabled above


def when(value: datetime | date | None) -> str:
    """`2025-03-14 09:30 UTC` (a date: `2025-03-14`), or a dash."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["duration"] = duration
    env.filters["markdown"] = markdown_html
    env.filters["query"] = lambda params: urlencode(params)
    return env


ENV = _environment()


def page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A rendered page with the console's security headers."""
    html = ENV.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
