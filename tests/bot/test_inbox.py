"""The inbox's rows: recorded once per key, fenced by their lease, claimed once, trimmed."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlmodel import select

from bot.core import inbox
from storage import Database
from storage.db import WRITE_FENCE
from storage.models import EventReceipt
from storage.models_inbox import InboxRequest
from storage.types import utcnow

LEASE = timedelta(seconds=30)


def _record(db: Database, key: str, owner: str = "a", lease: timedelta = LEASE) -> int | None:
    with db.session() as session:
        return inbox.record(
            session,
            key=key,
            kind="events_api",
            mode="http",
            content_type="application/json",
            body="{}",
            owner=owner,
            lease=lease,
            now=utcnow(),
        )


def _row(db: Database, row_id: int) -> InboxRequest:
    with db.read() as session:
        row = session.get(InboxRequest, row_id)
    assert row is not None
    return row


def test_keys_are_natural() -> None:
    assert inbox.key_for(event_id="Ev123", body=b"x") == "event:Ev123"
    by_body = inbox.key_for(event_id=None, body=b"command=%2Fincident")
    assert by_body.startswith("body:") and len(by_body) == 5 + 64
    assert by_body == inbox.key_for(event_id=None, body=b"command=%2Fincident")


def test_a_key_is_recorded_once(db: Database) -> None:
    first = _record(db, "event:Ev1")
    assert first is not None
    assert _record(db, "event:Ev1", owner="b") is None
    row = _row(db, first)
    assert row.lease_owner == "a" and row.attempts == 1 and row.processed_at is None


def test_a_batch_is_kept_in_one_statement_once_per_key(db: Database) -> None:
    known = _record(db, "event:Ev0")
    batch = [
        (key, "events_api", "http", "application/json", "{}", owner)
        for key, owner in (
            ("event:Ev0", "x"),
            ("event:EvA", "a"),
            ("event:EvA", "b"),
            ("event:EvB", "w"),
        )
    ]
    found = db.one_statement(lambda conn: inbox.record_many(conn, batch, lease=LEASE, now=utcnow()))
    assert known is not None and found[0] is None and found[2] is None  # known; repeated
    kept_a, kept_b = found[1], found[3]
    assert kept_a is not None and kept_b is not None and len({known, kept_a, kept_b}) == 3
    assert _row(db, kept_a).lease_owner == "a" and _row(db, kept_b).lease_owner == "w"
    assert _row(db, kept_a).lease_until is not None and _row(db, kept_a).attempts == 1
    assert _row(db, known).lease_owner == "a"  # (untouched)


def test_a_keep_on_a_broken_connection_is_retried_on_a_new_one(db: Database) -> None:
    """PostgreSQL: the keep's connections skip the ping when taken from the pool; a server
    that dropped one (a restart, a proxy's timeout) costs a retry, not the request."""
    if db.is_sqlite:
        pytest.skip("PostgreSQL only: SQLite keeps no connection to a server")
    batch = [("event:EvR", "events_api", "http", "application/json", "{}", "a")]
    pids = db.one_statement(
        lambda conn: [conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()]
    )
    with db.engine.connect() as admin:  # the server drops the pooled connection
        admin.exec_driver_sql(f"SELECT pg_terminate_backend({int(pids[0])})")
    found = db.one_statement(lambda conn: inbox.record_many(conn, batch, lease=LEASE, now=utcnow()))
    assert found[0] is not None and _row(db, found[0]).lease_owner == "a"


def test_writes_while_holding_the_lease_mark_the_row_applied(db: Database) -> None:
    row_id = _record(db, "event:Ev2")
    assert row_id is not None
    token = WRITE_FENCE.set(lambda s: inbox.fence(s, row_id=row_id, owner="a", now=utcnow()))
    try:
        with db.read() as session:  # reading applies nothing
            session.exec(select(EventReceipt)).all()
        with db.session() as session:  # neither does a write session that writes nothing
            session.exec(select(EventReceipt)).all()
        assert _row(db, row_id).applied_at is None
        with db.session() as session:
            session.add(EventReceipt(event_id="Ev2", event_type="reaction_added"))
    finally:
        WRITE_FENCE.reset(token)
    assert _row(db, row_id).applied_at is not None


def test_a_replica_that_lost_the_lease_cannot_commit(db: Database) -> None:
    row_id = _record(db, "event:Ev3", lease=timedelta(seconds=-1))  # already run out
    assert row_id is not None
    with db.session() as session:
        [taken] = inbox.claim(session, owner="b", lease=LEASE, now=utcnow(), limit=10)
    assert taken.id == row_id and taken.attempts == 2 and not taken.applied
    token = WRITE_FENCE.set(lambda s: inbox.fence(s, row_id=row_id, owner="a", now=utcnow()))
    try:
        with pytest.raises(inbox.InboxSuperseded), db.session() as session:
            session.add(EventReceipt(event_id="Ev3", event_type="reaction_added"))
    finally:
        WRITE_FENCE.reset(token)
    with db.read() as session:
        assert session.get(EventReceipt, "Ev3") is None  # rolled back
    with db.session() as session:
        assert not inbox.finish(session, row_id=row_id, owner="a", now=utcnow())
        assert inbox.finish(session, row_id=row_id, owner="b", now=utcnow())
    assert _row(db, row_id).processed_at is not None


def test_only_rows_nobody_holds_are_claimed_and_each_once(db: Database) -> None:
    held = _record(db, "event:held")
    expired = [_record(db, f"event:x{n}", lease=timedelta(seconds=-1)) for n in range(40)]
    done = _record(db, "event:done", lease=timedelta(seconds=-1))
    assert done is not None
    with db.session() as session:
        inbox.finish(session, row_id=done, owner="a", now=utcnow())
    got: dict[str, list[int]] = {}
    start = threading.Barrier(4)

    def replica(name: str) -> None:
        start.wait()
        mine: list[int] = []
        while True:
            with db.session() as session:
                claimed = inbox.claim(session, owner=name, lease=LEASE, now=utcnow(), limit=3)
            if not claimed:
                break
            mine += [c.id for c in claimed]
        got[name] = mine

    threads = [threading.Thread(target=replica, args=(f"r{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    taken = sorted(i for ids in got.values() for i in ids)
    assert taken == sorted(i for i in expired if i is not None)
    assert held not in taken


def test_renew_keeps_only_what_is_still_held(db: Database) -> None:
    mine = _record(db, "event:r1")
    theirs = _record(db, "event:r2", owner="b")
    assert mine is not None and theirs is not None
    with db.session() as session:
        held = inbox.renew(
            session, row_ids=[mine, theirs], owner="a", lease=timedelta(hours=1), now=utcnow()
        )
    assert held == {mine}
    lease_until = _row(db, mine).lease_until
    assert lease_until is not None and lease_until > utcnow() + timedelta(minutes=59)


def test_trim_deletes_processed_rows_older_than_the_retention(db: Database) -> None:
    old, recent, open_ = (_record(db, f"event:t{n}") for n in range(3))
    assert old is not None and recent is not None and open_ is not None
    with db.session() as session:
        inbox.finish(session, row_id=old, owner="a", now=utcnow() - timedelta(days=8))
        inbox.finish(session, row_id=recent, owner="a", now=utcnow() - timedelta(days=6))
    with db.session() as session:
        assert inbox.trim(session, before=utcnow() - timedelta(days=7)) == 1
    with db.read() as session:
        left = {r.id for r in session.exec(select(InboxRequest)).all()}
        assert inbox.unprocessed(session) == 1
    assert left == {recent, open_}
