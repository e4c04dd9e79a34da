"""The processing worker's jobs do not all run the moment it starts (jobs.hold_first_runs)."""

from __future__ import annotations

from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from bot.slack import jobs
from storage.types import utcnow


def _nothing() -> None:
    return None


def test_jobs_set_to_run_at_start_are_held_and_the_others_keep_their_times() -> None:
    scheduler = BackgroundScheduler(timezone="UTC")
    now = utcnow()
    scheduler.add_job(_nothing, "interval", seconds=5, id="catch-up", next_run_time=now)
    soon = now + timedelta(seconds=3)
    scheduler.add_job(_nothing, "interval", seconds=5, id="soon", next_run_time=soon)
    later = now + timedelta(minutes=5)
    scheduler.add_job(_nothing, "interval", seconds=5, id="later", next_run_time=later)
    scheduler.add_job(_nothing, "interval", seconds=60, id="on-its-trigger")
    scheduler.add_job(_nothing, "cron", day_of_week="mon", hour=9, id="weekly")

    assert jobs.hold_first_runs(scheduler, 10) == 2

    scheduler.start(paused=True)  # (computes the first runs of the jobs given none)
    try:
        first = {job.id: job.next_run_time for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)
    for held in ("catch-up", "soon"):
        assert now + timedelta(seconds=10) <= first[held] <= utcnow() + timedelta(seconds=10)
    assert first["later"] == later
    assert now + timedelta(seconds=59) <= first["on-its-trigger"] <= now + timedelta(seconds=62)
    assert (first["weekly"].weekday(), first["weekly"].hour) == (0, 9)
