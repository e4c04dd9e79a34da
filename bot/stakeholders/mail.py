"""Notice e-mails: multipart text + HTML from Jinja2 templates teams can replace.

The built-in templates are `templates/notice.txt.j2` and `templates/notice.html.j2`; a file
of the same name in STAKEHOLDER_TEMPLATES_DIR replaces one. Templates run sandboxed; the HTML
one escapes every value (so text people typed is never markup), the text one does not.
Each mail has a Message-ID derived from its notice key (the same on every retry) and
belongs to one thread per incident and recipient: the declaration mail is the thread's
root and every later mail refers to it (In-Reply-To, References).
"""

from __future__ import annotations

import hashlib
from email.utils import parseaddr
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from bot.core.mail import OutgoingMail
from bot.stakeholders.config import Quadrant, Trigger
from bot.stakeholders.wording import facts

TEMPLATES = Path(__file__).parent / "templates"
TEXT_TEMPLATE = "notice.txt.j2"
HTML_TEMPLATE = "notice.html.j2"
QUADRANT_LABELS = {
    Quadrant.MANAGE_CLOSELY.value: "managed closely",
    Quadrant.KEEP_SATISFIED.value: "kept satisfied",
    Quadrant.KEEP_INFORMED.value: "kept informed",
    Quadrant.MONITOR.value: "monitoring",
    "": "stakeholders",
}


@cache
def environment(custom_dir: str = "") -> SandboxedEnvironment:
    """Templates from `custom_dir` first, then the built-in ones."""
    loaders: list[jinja2.BaseLoader] = []
    if custom_dir:
        loaders.append(jinja2.FileSystemLoader(custom_dir))
    loaders.append(jinja2.FileSystemLoader(str(TEMPLATES)))
    return SandboxedEnvironment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "html.j2"), default_for_string=False, default=False
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def mail_domain(sender: str) -> str:
    """The domain Message-IDs are made in: SMTP_FROM's."""
    address = parseaddr(sender)[1]
    domain = address.rpartition("@")[2].strip().lower()
    return domain or "incident-bot.invalid"


def context(payload: dict[str, Any], *, group: str, quadrant: str) -> dict[str, Any]:
    """The variables the templates see."""
    data = facts(payload, quadrant=quadrant)
    return {
        "headline": data.headline,
        "trigger": data.trigger.value,
        "message": data.message,
        "executive": data.executive,
        "next_update": data.next_update,
        "status_page_url": data.status_page_url,
        "subscribe_url": str(payload.get("subscribe_url") or ""),
        "group": group or "stakeholders",
        "quadrant": quadrant,
        "quadrant_label": QUADRANT_LABELS.get(quadrant, quadrant),
        "incident": {
            "number": data.number,
            "title": data.title,
            "severity": data.severity,
            "old_severity": data.old_severity,
            "status": data.status,
            "impact": data.impact,
            "summary": data.summary,
            "manager": data.manager,
        },
    }


def thread_root(payload: dict[str, Any], recipient: str, domain: str) -> str:
    """The Message-ID every mail about this incident to this recipient refers to."""
    who = hashlib.sha256(recipient.lower().encode()).hexdigest()[:12]
    return f"<{payload.get('thread', 'incident')}.{who}@{domain}>"


def compose(
    *,
    key: str,
    recipient: str,
    payload: dict[str, Any],
    group: str,
    quadrant: str,
    sender: str,
    templates_dir: str = "",
) -> OutgoingMail:
    """The mail for one notice."""
    values = context(payload, group=group, quadrant=quadrant)
    env = environment(templates_dir)
    text = env.get_template(TEXT_TEMPLATE).render(values)
    html = env.get_template(HTML_TEMPLATE).render(values)
    domain = mail_domain(sender)
    root = thread_root(payload, recipient, domain)
    declared = payload.get("trigger") == Trigger.DECLARED.value
    message_id = root if declared else f"<notice.{key}@{domain}>"
    number = values["incident"]["number"]
    return OutgoingMail(
        to=(recipient,),
        subject=" ".join(str(values["headline"]).split())[:250],
        text=text,
        html=html,
        message_id=message_id,
        thread_id=root,
        headers=(
            ("Thread-Topic", f"Incident #{number}"),
            ("Auto-Submitted", "auto-generated"),
            ("X-Incident-Number", str(number)),
        ),
    )


SAMPLE: dict[str, Any] = {
    "number": 7,
    "title": "Checkout <b>is</b> down & slow",
    "severity": "sev1",
    "old_severity": "sev2",
    "status": "investigating",
    "impact": "Card payments fail",
    "summary": "Errors since 10:02",
    "message": "Rolled back the deploy",
    "manager_name": "Alice",
    "next_update_at": "2026-03-02T12:15:00+00:00",
    "status_page_url": "https://status.example",
    "subscribe_url": "https://status.example/status/subscribe",
    "thread": "incident-7.0",
}


def check_templates(templates_dir: str) -> None:
    """Render both templates for every event and quadrant; ValueError says what is wrong."""
    for trigger in Trigger:
        for quadrant in Quadrant:
            try:
                compose(
                    key="0" * 64,
                    recipient="someone@example.com",
                    payload={**SAMPLE, "trigger": trigger.value},
                    group="Sample",
                    quadrant=quadrant.value,
                    sender="bot@example.com",
                    templates_dir=templates_dir,
                )
            except jinja2.TemplateError as exc:
                lineno = getattr(exc, "lineno", None)
                where = f" line {lineno}" if lineno else ""
                name = getattr(exc, "name", None) or getattr(exc, "filename", None) or "template"
                raise ValueError(f"{name}{where}: {exc}") from None
