"""The declare limit where the front answers a form before the take (SQLite's journal, then
the processing worker moves it into the inbox with the take: handlers/access.py `_Looked`).

The worker commits the take, then tells the front: in between, the database counts it
already. A look then must not count it a second time (a person's second declaration under a
limit of two was refused: `test_processing_worker::test_the_declare_limit_holds_for_forms_
answered_before_their_take` failed so in CI), nor zero times."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from bot.core import inbox
from bot.rate_limits import DECLARE, Throttled, parse_limits
from handlers import access
from handlers.context import Scope
from storage import Database
from storage.db import RIDER, WRITE_FENCE, Rider
from storage.types import utcnow

LIMITS = parse_limits("declare=2/1m")


def look(db: Database, user: str, key: str) -> Rider:
    """What the front does for a declare form given to the worker: charge, then look (in a
    read-only session, as web/intake_work.py does); Throttled if the look refuses it."""
    fence = WRITE_FENCE.set(lambda session: None)  # processed through the inbox
    try:
        access.charge(Scope(request="form declare_modal", user_id=user, cost=DECLARE), db, LIMITS)
    finally:
        WRITE_FENCE.reset(fence)
    rider = RIDER.get()
    assert rider is not None and rider.spec == {"limit": "declare", "user": user}
    RIDER.set(None)
    with db.read() as session:
        rider.look(session, key)
    return rider


def move(db: Database, user: str, key: str) -> None:
    """What the worker does: keep the request in the inbox, with the take, in one commit."""
    rider = access.rider_for({"limit": "declare", "user": user}, LIMITS)
    assert rider is not None
    with db.session() as session:
        inbox.record(
            session,
            key=key,
            kind="interactive",
            mode="http",
            content_type="application/x-www-form-urlencoded",
            body="payload=%7B%7D",
            owner="worker",
            lease=timedelta(seconds=30),
            now=utcnow(),
        )
        rider.run(session)


def test_a_take_committed_before_the_front_hears_of_it_is_counted_once(db: Database) -> None:
    user = f"U{uuid.uuid4().hex[:10].upper()}"
    first = look(db, user, "body:first")
    move(db, user, "body:first")  # committed; the front has not heard yet (no `ended`)
    second = look(db, user, "body:second")  # 2 - 1 taken = 1 left: let through
    with pytest.raises(Throttled) as refused:  # 1 taken, 1 let through: none left
        look(db, user, "body:third")
    assert "at most 2 declarations" in str(refused.value)
    first.ended()  # the worker's word arrives: nothing changes
    with pytest.raises(Throttled):
        look(db, user, "body:third")
    move(db, user, "body:second")
    second.ended()
    with pytest.raises(Throttled):  # both taken
        look(db, user, "body:fourth")
    with db.read() as session:
        assert inbox.kept(session, ["body:first", "body:second", "body:x"]) == {
            "body:first",
            "body:second",
        }


def test_looks_before_any_take_count_what_they_let_through(db: Database) -> None:
    user = f"U{uuid.uuid4().hex[:10].upper()}"
    look(db, user, "body:a")
    look(db, user, "body:b")
    with pytest.raises(Throttled):
        look(db, user, "body:c")
