"""The reminder benchmark keeps working: it runs at a tiny size on both databases."""

from __future__ import annotations

import pytest

from bench import reminders_tick


@pytest.mark.scenario
def test_the_reminder_benchmark_runs_at_a_tiny_size(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    figures = reminders_tick.main(
        [
            "--incidents", "60",
            "--database-url", db_url,
            "--window", "1.5",
            "--tick", "1",
            "--idle-ticks", "5",
            "--backlog", "20",
        ]
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert "idle tick (nothing due)" in printed and "sent after due time" in printed
    assert figures["exactly_once"] and figures["duplicates"] == 0
    assert figures["backlog"]["reminders"] >= 20
    assert figures["posted"] == figures["recorded"] >= 20
    assert figures["idle_tick_statements"] <= 4  # one claim, one look at the next due time
    assert figures["reconcile_fixed"] == 0
