"""The weekly digest: its schedule (DIGEST_SCHEDULE, like "mon 09:00"; empty: off) and who
posts it. Every replica ticks; the first to insert the week's key posts it, so it goes out
once. A failed post releases the key for the next tick; a replica that dies between claiming
and posting loses that week's digest (at most once, never twice)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from bot.reminders import insert_ignoring
from storage.models_library import DigestDelivery

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class DigestSchedule:
    """Once a week, on `weekday` (0 is Monday) at `at`, in `timezone`."""

    weekday: int
    at: time
    timezone: str = "UTC"

    def period_start(self, now: datetime) -> datetime:
        """The latest scheduled moment at or before `now` (the current digest's key)."""
        zone = ZoneInfo(self.timezone)
        local = now.astimezone(zone)
        day: date = local.date() - timedelta(days=(local.weekday() - self.weekday) % 7)
        start = datetime.combine(day, self.at, tzinfo=zone)
        if start > local:
            start -= timedelta(days=7)
        return start

    def next_after(self, now: datetime) -> datetime:
        """The next scheduled moment after `now`."""
        return self.period_start(now) + timedelta(days=7)


def parse_schedule(text: str, *, timezone: str = "UTC") -> DigestSchedule | None:
    """ "mon 09:00" -> a schedule; "" or "off" -> None; anything else -> ValueError."""
    value = (text or "").strip().lower()
    if value in ("", "off"):
        return None
    day, _, clock = value.partition(" ")
    day = day[:3]
    hours, _, minutes = clock.strip().partition(":")
    if (
        day not in WEEKDAYS
        or not (hours.isdigit() and minutes.isdigit())
        or not (0 <= int(hours) < 24 and 0 <= int(minutes) < 60)
    ):
        raise ValueError(
            f"{text!r} is not a weekly schedule; write a weekday and a time, like mon 09:00"
        )
    return DigestSchedule(WEEKDAYS.index(day), time(int(hours), int(minutes)), timezone)


LATE_AFTER = timedelta(hours=24)  # a digest not sent within a day of its time is skipped


def digest_key(start: datetime) -> str:
    """The key of the digest due at `start` (one per week)."""
    return "digest:" + start.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%MZ")


def claim(
    session: Session, *, schedule: DigestSchedule, channel_id: str, owner: str, now: datetime
) -> str | None:
    """The key of this week's digest if it is due and this replica is the one to post it."""
    start = schedule.period_start(now)
    if now - start > LATE_AFTER:
        return None
    key = digest_key(start)
    inserted = session.execute(
        insert_ignoring(session, DigestDelivery)
        .values(key=key, channel_id=channel_id, claimed_by=owner, claimed_at=now)
        .on_conflict_do_nothing()
        .returning(DigestDelivery.__table__.c.id)  # type: ignore[attr-defined]
    ).first()
    return key if inserted is not None else None


def record_sent(session: Session, *, key: str, message_ts: str | None, now: datetime) -> None:
    """The digest went out."""
    row = session.exec(select(DigestDelivery).where(DigestDelivery.key == key)).one()
    row.message_ts, row.sent_at = message_ts, now
    session.add(row)


def release(session: Session, *, key: str) -> None:
    """Posting failed: let the next tick (on any replica) try again."""
    row = session.exec(select(DigestDelivery).where(DigestDelivery.key == key)).first()
    if row is not None and row.sent_at is None:
        session.delete(row)
