"""Per-person rate limits in the database: the limit holds per person and bucket, refills over
time, and holds across replicas (several processes' connections on one database)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from bot import rate_limits
from bot.rate_limits import Bucket, Limit, parse_limits, take
from storage import Database

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
FIVE_A_MINUTE = Limit(5, timedelta(minutes=1))


def _take(
    db: Database, user: str = "U0ALICE01", *, at: datetime = T0, peek: bool = False
) -> timedelta | None:
    with db.session() as session:
        return take(
            session,
            user_id=user,
            bucket=Bucket.DECLARE,
            limit=FIVE_A_MINUTE,
            now=at,
            peek=peek,
        )


def test_five_a_minute_then_a_wait(db: Database) -> None:
    assert [_take(db) for _ in range(5)] == [None] * 5
    wait = _take(db)
    assert wait == timedelta(seconds=12)  # one token comes back every 12 seconds
    assert _take(db, at=T0 + timedelta(seconds=11)) == timedelta(seconds=1)
    assert _take(db, at=T0 + timedelta(seconds=12)) is None
    assert _take(db, at=T0 + timedelta(seconds=12)) is not None


def test_a_full_minute_refills_and_never_above_the_limit(db: Database) -> None:
    for _ in range(5):
        _take(db)
    later = T0 + timedelta(hours=3)
    assert [_take(db, at=later) for _ in range(6)] == [None] * 5 + [timedelta(seconds=12)]


def test_people_and_buckets_are_counted_apart(db: Database) -> None:
    for _ in range(5):
        _take(db, "U0ALICE01")
    assert _take(db, "U0ALICE01") is not None
    assert _take(db, "U0BOB0001") is None
    with db.session() as session:
        costly = take(
            session, user_id="U0ALICE01", bucket=Bucket.COSTLY, limit=FIVE_A_MINUTE, now=T0
        )
    assert costly is None


def test_peeking_takes_nothing(db: Database) -> None:
    for _ in range(10):
        assert _take(db, peek=True) is None
    assert [_take(db) for _ in range(5)] == [None] * 5
    assert _take(db, peek=True) is not None


def test_the_limit_holds_across_replicas(db_url: str) -> None:
    """Two replicas (two engines on one database), eight threads each, 40 attempts at once:
    exactly five go ahead."""
    replicas = [Database(db_url), Database(db_url)]
    results: list[timedelta | None] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def attempt(database: Database) -> None:
        start.wait()
        for _ in range(40 // 16 + 1):
            outcome = _take(database)
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=attempt, args=(replicas[i % 2],)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for database in replicas:
        database.dispose()
    assert len(results) == 48 and results.count(None) == 5


def test_limits_are_parsed_with_defaults_and_off() -> None:
    assert parse_limits(rate_limits.DEFAULT_LIMITS) == {
        Bucket.DECLARE: Limit(5, timedelta(minutes=1)),
        Bucket.COSTLY: Limit(30, timedelta(minutes=1)),
    }
    assert parse_limits("declare=off") == {
        Bucket.DECLARE: None,
        Bucket.COSTLY: Limit(30, timedelta(minutes=1)),
    }
    assert parse_limits(" costly = 100/2h ")[Bucket.COSTLY] == Limit(100, timedelta(hours=2))
    assert parse_limits("declare=3/30s")[Bucket.DECLARE] == Limit(3, timedelta(seconds=30))


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("declares=5/1m", "unknown limit `declares`"),
        ("declare", "needs `=`"),
        ("declare=5", "is not a limit"),
        ("declare=0/1m", "is not a limit"),
        ("declare=5/0m", "is not a limit"),
        ("declare=five/1m", "is not a limit"),
    ],
)
def test_a_bad_limit_says_what_is_wrong(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_limits(text)


def test_the_refusal_says_how_long_to_wait() -> None:
    error = rate_limits.refusal(Bucket.DECLARE, FIVE_A_MINUTE, timedelta(seconds=12))
    assert str(error) == (
        "Slow down: at most 5 declarations per minute per person. Try again in 12 seconds; "
        "nothing was done."
    )
    costly = rate_limits.refusal(Bucket.COSTLY, Limit(30, timedelta(hours=1)), timedelta(minutes=7))
    assert "at most 30 requests like this one per hour" in str(costly)
    assert "Try again in 7 minutes" in str(costly)
