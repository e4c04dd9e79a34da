"""Public status page updates on Mastodon, posted only after the incident manager approves.

When a public update is published (and MASTODON_API_URL is set), `plan_post` adds, in the
publishing transaction, two `stakeholder_notice` rows: the post itself (channel `mastodon`,
`held`: nothing is sent until someone decides) and the preview in the incident's channel
(channel `preview`, pending: the delivery engine posts it, with Post / Edit / Skip buttons).
`decide` is what the buttons and the Edit form do: under a row lock, a held post becomes
pending (the engine posts it once, its Idempotency-Key the notice's key) or skipped, and who
decided is kept (`requested_by`); a post already decided is left alone, so a double click or
two replicas post once. Each decision and each outcome of the post adds a `preview` row that
updates the preview in place (`refresh`): the Slack side renders what `post_of` says then.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot.core.errors import InvalidInput, NotFound
from bot.stakeholders.config import Trigger
from bot.stakeholders.planning import HELD, PENDING, SENT, SKIPPED, insert, notice_key
from bot.stakeholders.planning import Target as _Target
from bot.stakeholders.wording import MASTODON_MAX
from storage.models import Incident
from storage.models_stakeholders import StakeholderNotice

MASTODON = "mastodon"
PREVIEW = "preview"  # the preview message in the incident channel (and its refreshes)
HERE = "incident-channel"  # the preview's recipient: the incident's channel, when it exists
URL_LENGTH = 23  # Mastodon counts every link as 23 characters
_URL = re.compile(r"https?://\S+")
TEXT_FIELD = "post_text"


def length(text: str) -> int:
    """The length Mastodon counts: links are 23 characters each, whatever their length."""
    return len(_URL.sub("x" * URL_LENGTH, text))


def clean(text: str) -> str:
    """A post's text, or InvalidInput saying what is wrong (empty, over 500)."""
    value = (text or "").strip()
    if not value:
        raise InvalidInput("Write the text of the post.", fields={"text": "Write the post."})
    counted = length(value)
    if counted > MASTODON_MAX:
        message = f"Mastodon takes at most {MASTODON_MAX} characters (this has {counted})."
        raise InvalidInput(message, fields={"text": message})
    return value


def draft(name: str, status: str, body: str, url: str) -> str:
    """The default post: the public incident, its status, the update and the link."""
    lead = f"{name}: {status}."
    link = f"\n\n{url}" if url else ""
    room = MASTODON_MAX - length(lead + link) - 1
    text = " ".join(body.split())
    if len(text) > room:
        text = text[: max(0, room - 1)].rstrip() + "…"
    return (lead + (f" {text}" if text else "") + link).strip()


def plan_post(
    session: Session,
    *,
    incident: Incident,
    ref: str,
    text: str,
    now: datetime,
) -> int:
    """Add the held post and its preview for one public update (`ref`); count rows added.

    Private incidents are never posted. Planning the same update twice adds nothing.
    """
    if incident.private or incident.id is None:
        return 0
    payload: dict[str, Any] = {
        "incident_id": incident.id,
        "number": incident.number,
        "title": incident.title,
        TEXT_FIELD: text,
    }
    post_key = notice_key(incident.id, ref, MASTODON, MASTODON)
    added = insert(
        session,
        incident_id=incident.id,
        ref=ref,
        trigger=Trigger.UPDATE,
        payload=payload,
        planned=[_Target(MASTODON, MASTODON, held=True)],
        now=now,
    )
    added += insert(
        session,
        incident_id=incident.id,
        ref=ref,
        trigger=Trigger.UPDATE,
        payload={**payload, "post_key": post_key, "refresh": 0},
        planned=[_Target(PREVIEW, HERE)],
        now=now,
    )
    return added


@dataclass(frozen=True)
class Post:
    """A Mastodon post as its preview shows it."""

    id: int
    key: str
    incident_id: int
    state: str  # held, pending, sent, skipped
    text: str
    decided_by: str | None
    url: str | None  # the status on Mastodon, once posted
    error: str | None  # the last failure (given up: due_at NULL with an error)
    given_up: bool


def _post_row(session: Session, *, key: str | None = None, post_id: int | None = None) -> Any:
    query = select(StakeholderNotice).where(StakeholderNotice.channel == MASTODON)
    if key is not None:
        query = query.where(StakeholderNotice.key == key)
    else:
        query = query.where(StakeholderNotice.id == post_id)
    return session.exec(query).first()


def post_of(session: Session, *, key: str | None = None, post_id: int | None = None) -> Post:
    """The post with this key or id, or NotFound."""
    row = _post_row(session, key=key, post_id=post_id)
    if row is None or row.id is None:
        raise NotFound("That Mastodon post no longer exists.")
    return _post(row)


def _post(row: StakeholderNotice) -> Post:
    assert row.id is not None
    payload = json.loads(row.payload or "{}")
    given_up = row.state == PENDING and row.due_at is None and bool(row.last_error)
    return Post(
        id=row.id,
        key=row.key,
        incident_id=row.incident_id or 0,
        state=row.state,
        text=str(payload.get(TEXT_FIELD) or ""),
        decided_by=row.requested_by,
        url=row.provider_ref if row.state == SENT else None,
        error=row.last_error,
        given_up=given_up,
    )


def preview_ts(session: Session, *, post: Post) -> str | None:
    """The ts of the posted preview (its first row's provider reference), if it is posted."""
    rows = session.exec(
        select(StakeholderNotice)
        .where(
            StakeholderNotice.incident_id == post.incident_id,
            StakeholderNotice.channel == PREVIEW,
            StakeholderNotice.state == SENT,
        )
        .order_by(col(StakeholderNotice.id))
    ).all()
    post_key = post.key
    for row in rows:
        payload = json.loads(row.payload or "{}")
        if payload.get("post_key") == post_key and not payload.get("refresh"):
            return row.provider_ref
    return None


def refresh(session: Session, row: StakeholderNotice, *, reason: str, now: datetime) -> int:
    """Add a preview row that updates the preview of the post `row` in place."""
    payload = json.loads(row.payload or "{}")
    preview = {**payload, "post_key": row.key, "refresh": 1, "reason": reason}
    assert row.incident_id is not None  # Mastodon posts are about incidents
    return insert(
        session,
        incident_id=row.incident_id,
        ref=f"{row.event}:{reason}@{now.timestamp():.3f}"[:64],
        trigger=Trigger(row.trigger),
        payload=preview,
        planned=[_Target(PREVIEW, HERE)],
        now=now,
    )


def decide(
    session: Session,
    *,
    post_id: int,
    incident_id: int,
    actor: str,
    approve: bool,
    now: datetime,
    text: str | None = None,
) -> tuple[Post, bool]:
    """Post (approve, optionally with edited `text`) or skip a held post; (post, changed).

    A post already decided is left as it is (changed False): a second click posts nothing.
    """
    row = session.exec(
        select(StakeholderNotice)
        .where(StakeholderNotice.id == post_id, StakeholderNotice.channel == MASTODON)
        .with_for_update()
    ).first()
    if row is None or row.incident_id != incident_id:
        raise NotFound("That Mastodon post no longer exists.")
    if row.state != HELD:
        return _post(row), False
    incident = session.get(Incident, incident_id)
    if approve and (incident is None or incident.private):
        raise InvalidInput("The incident is private now: nothing is posted to Mastodon.")
    if text is not None:
        payload = json.loads(row.payload or "{}")
        payload[TEXT_FIELD] = clean(text)
        row.payload = json.dumps(payload, sort_keys=True)
    row.requested_by = actor
    if approve:
        row.state, row.due_at = PENDING, now
    else:
        row.state, row.due_at = SKIPPED, None
    session.add(row)
    session.flush()
    refresh(session, row, reason="posting" if approve else "skipped", now=now)
    return _post(row), True


def after_outcome(session: Session, row: StakeholderNotice, *, reason: str, now: datetime) -> None:
    """The post went out or was given up: show it on the preview."""
    if row.channel == MASTODON:
        refresh(session, row, reason=reason, now=now)
