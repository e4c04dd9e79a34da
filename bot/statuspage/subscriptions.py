"""E-mail subscribers: double opt-in, an optional choice of components, unsubscribing.

A subscriber is mailed only once they have followed the confirmation link. Each mail is a
`status_mail` row written in the transaction that causes it (a subscription, or a public
update); the row is unique per subscriber and update, so nothing is mailed twice, and it
stays pending until the delivery engine hands it to the e-mail channel
(bot.statuspage.mail_claims, bot.slack.statuspage).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import insert, update
from sqlmodel import Session, col, select

from bot.core.errors import InvalidInput, NotFound
from bot.statuspage import state
from bot.statuspage.config import PageConfig
from storage.models_statuspage import (
    StatusIncident,
    StatusIncidentUpdate,
    StatusMail,
    StatusSubscriber,
)
from storage.types import utcnow

EMAIL_MAX = 254
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&*+/=?^_`{|}~-]{1,64}@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
RESEND_CONFIRMATION_AFTER = timedelta(minutes=10)
MAX_ATTEMPTS = 8


def clean_email(text: str) -> str:
    """A normalised address, or InvalidInput."""
    email = (text or "").strip()
    if len(email) > EMAIL_MAX or not _EMAIL.match(email):
        raise InvalidInput("Enter a valid e-mail address, like name@example.com.")
    return email.lower()  # one subscription per mailbox, however it is typed


def _active(subscriber: StatusSubscriber) -> bool:
    return subscriber.confirmed_at is not None and subscriber.unsubscribed_at is None


def subscribe(
    session: Session,
    *,
    config: PageConfig,
    email: str,
    component_ids: list[str],
    now: datetime | None = None,
) -> bool:
    """Ask to subscribe `email`; True when a confirmation mail was queued.

    The answer to the person is the same whatever happened (no one learns who subscribes).
    A confirmed subscriber is left as they are; a pending one gets at most one confirmation
    mail every ten minutes.
    """
    now = now or utcnow()
    address = clean_email(email)
    for id_ in component_ids:
        if config.component(id_) is None:
            raise InvalidInput(f"Unknown component {id_!r}.")
    chosen = ",".join(dict.fromkeys(component_ids))
    row = session.exec(select(StatusSubscriber).where(StatusSubscriber.email == address)).first()
    if row is not None and _active(row):
        return False
    if row is None:
        row = StatusSubscriber(
            email=address, token=secrets.token_urlsafe(24), component_ids=chosen, created_at=now
        )
    else:
        row.component_ids = chosen
        sent = row.confirm_sent_at
        if sent is not None and now - sent < RESEND_CONFIRMATION_AFTER:
            session.add(row)
            return False
    row.confirm_sent_at = now
    session.add(row)
    session.flush()
    assert row.id is not None
    mail = StatusMail(subscriber_id=row.id, kind="confirm", created_at=now, due_at=now)
    session.add(mail)
    state.notify_after_commit(session)  # wakes this process's mail sender
    return True


def _by_token(session: Session, token: str) -> StatusSubscriber:
    row = session.exec(
        select(StatusSubscriber).where(StatusSubscriber.token == (token or "")[:64])
    ).first()
    if row is None or not token:
        raise NotFound("This link is not valid (it may be incomplete). Subscribe again.")
    return row


def lookup(session: Session, *, token: str) -> StatusSubscriber:
    """The subscriber of a confirm or unsubscribe link, or NotFound."""
    return _by_token(session, token)


def confirm(session: Session, *, token: str, now: datetime | None = None) -> StatusSubscriber:
    """Follow the confirmation link: from now on the subscriber gets every public update."""
    row = _by_token(session, token)
    if not _active(row):
        row.confirmed_at = now or utcnow()
        row.unsubscribed_at = None
        session.add(row)
    return row


def unsubscribe(session: Session, *, token: str, now: datetime | None = None) -> StatusSubscriber:
    """Stop mailing this subscriber (pending mails to them are dropped)."""
    row = _by_token(session, token)
    if row.unsubscribed_at is None:
        row.unsubscribed_at = now or utcnow()
        session.add(row)
        session.execute(
            update(StatusMail)
            .where(col(StatusMail.subscriber_id) == row.id)
            .where(col(StatusMail.state) == "pending")
            .values(state="dropped", due_at=None)
        )
    return row


def wants(subscriber_components: str, incident_components: str) -> bool:
    """Whether a subscriber with this choice of components hears about this incident."""
    chosen = {c for c in subscriber_components.split(",") if c}
    affected = {c for c in incident_components.split(",") if c}
    return not chosen or not affected or bool(chosen & affected)


def enqueue_update(session: Session, *, update: StatusIncidentUpdate, row: StatusIncident) -> int:
    """Queue one mail per confirmed subscriber who wants this update; how many."""
    subscribers = session.exec(
        select(StatusSubscriber.id, StatusSubscriber.component_ids)
        .where(col(StatusSubscriber.confirmed_at).is_not(None))
        .where(col(StatusSubscriber.unsubscribed_at).is_(None))
    ).all()
    now = update.created_at
    values = [
        {
            "subscriber_id": subscriber_id,
            "update_id": update.id,
            "kind": "update",
            "state": "pending",
            "attempts": 0,
            "created_at": now,
            "due_at": now,
        }
        for subscriber_id, chosen in subscribers
        if wants(chosen, row.component_ids)
    ]
    if values:
        session.execute(insert(StatusMail), values)
    return len(values)
