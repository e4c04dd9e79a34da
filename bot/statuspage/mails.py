"""The e-mails subscribers get: the confirmation request and one mail per public update.

Every mail carries an unsubscribe link (and List-Unsubscribe headers). Text people typed is
escaped in the HTML part by Jinja2's autoescaping.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from jinja2 import Environment, StrictUndefined
from sqlmodel import Session

from bot.core.mail import OutgoingMail
from bot.statuspage.config import PageConfig
from bot.statuspage.vocabulary import ComponentStatus, MaintenanceStatus, PublicStatus
from storage.models_statuspage import (
    StatusIncident,
    StatusIncidentUpdate,
    StatusMail,
    StatusSubscriber,
)


class NothingToSend(Exception):
    """The mail has nobody to go to any more (unsubscribed, or its update is gone)."""


_HTML = Environment(autoescape=True, undefined=StrictUndefined)
_TEXT = Environment(autoescape=False, undefined=StrictUndefined)

CONFIRM_TEXT = _TEXT.from_string(
    """Please confirm that you want e-mail about {{ page }}.

Confirm: {{ confirm_url }}

If you did not ask for this, ignore this message: nothing will be sent to you.
Unsubscribe: {{ unsubscribe_url }}
"""
)
CONFIRM_HTML = _HTML.from_string(
    """<p>Please confirm that you want e-mail about <strong>{{ page }}</strong>.</p>
<p><a href="{{ confirm_url }}">Confirm my subscription</a></p>
<p>If you did not ask for this, ignore this message: nothing will be sent to you.</p>
<p style="font-size:small"><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
"""
)
UPDATE_TEXT = _TEXT.from_string(
    """{{ name }}
{{ status }}: {{ body }}
{% if changes %}
{% for change in changes %}{{ change }}
{% endfor %}{% endif %}
{{ when }}
Details: {{ url }}

You get this because you subscribed to {{ page }}.
Unsubscribe: {{ unsubscribe_url }}
"""
)
UPDATE_HTML = _HTML.from_string(
    """<h2 style="margin:0 0 8px">{{ name }}</h2>
<p><strong>{{ status }}</strong>: {{ body }}</p>
{% if changes %}<ul>{% for change in changes %}<li>{{ change }}</li>{% endfor %}</ul>{% endif %}
<p style="color:#555">{{ when }}</p>
<p><a href="{{ url }}">View on {{ page }}</a></p>
<p style="font-size:small">You get this because you subscribed to {{ page }}.
<a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
"""
)


def _host(config: PageConfig) -> str:
    return urlsplit(config.url).hostname or "status.invalid"


def unsubscribe_url(config: PageConfig, subscriber: StatusSubscriber) -> str:
    """The link that ends a subscription."""
    return f"{config.url}/status/unsubscribe?token={subscriber.token}"


def confirm_url(config: PageConfig, subscriber: StatusSubscriber) -> str:
    """The double opt-in link."""
    return f"{config.url}/status/subscribe/confirm?token={subscriber.token}"


def _headers(config: PageConfig, subscriber: StatusSubscriber) -> tuple[tuple[str, str], ...]:
    return (
        ("List-Unsubscribe", f"<{unsubscribe_url(config, subscriber)}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("Auto-Submitted", "auto-generated"),
    )


def _status_label(kind: str, status: str) -> str:
    if kind == "maintenance":
        return MaintenanceStatus(status).label
    return PublicStatus(status).label


def compose(session: Session, *, config: PageConfig, mail: StatusMail) -> OutgoingMail:
    """The OutgoingMail for one row; NothingToSend when it has nobody left to go to."""
    subscriber = session.get(StatusSubscriber, mail.subscriber_id)
    if subscriber is None or subscriber.unsubscribed_at is not None:
        raise NothingToSend("unsubscribed")
    host = _host(config)
    values: dict[str, object] = {
        "page": config.name,
        "unsubscribe_url": unsubscribe_url(config, subscriber),
        "confirm_url": confirm_url(config, subscriber),
    }
    message_id = f"<status-mail-{mail.id}@{host}>"
    if mail.kind == "confirm":
        return OutgoingMail(
            to=(subscriber.email,),
            subject=f"Confirm your subscription to {config.name}",
            text=CONFIRM_TEXT.render(values),
            html=CONFIRM_HTML.render(values),
            message_id=message_id,
            headers=_headers(config, subscriber),
        )
    if subscriber.confirmed_at is None:
        raise NothingToSend("not confirmed")
    update = session.get(StatusIncidentUpdate, mail.update_id) if mail.update_id else None
    row = session.get(StatusIncident, update.status_incident_id) if update else None
    if update is None or row is None:
        raise NothingToSend("the update is gone")
    status = _status_label(row.kind, update.status)
    changes = [
        f"{c['name']}: {ComponentStatus(c['new_status']).label}"
        for c in json.loads(update.affected or "[]")
    ]
    when = update.created_at.astimezone(config.timezone).strftime("%d %b %Y, %H:%M %Z")
    values.update(
        name=row.name,
        status=status,
        body=update.body,
        changes=changes,
        when=when,
        url=f"{config.url}/status/incidents/{row.public_id}",
    )
    return OutgoingMail(
        to=(subscriber.email,),
        subject=f"[{config.name}] {status}: {row.name}",
        text=UPDATE_TEXT.render(values),
        html=UPDATE_HTML.render(values),
        message_id=message_id,
        thread_id=f"<status-incident-{row.public_id}@{host}>",
        headers=_headers(config, subscriber),
    )
