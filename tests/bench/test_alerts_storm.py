"""The alert-storm benchmark keeps working: it runs at a tiny size on both databases."""

from __future__ import annotations

import pytest

from bench import alerts_storm


@pytest.mark.scenario
def test_the_alert_storm_runs_at_a_tiny_size(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    figures = alerts_storm.main(
        ["--alerts", "60", "--groups", "6", "--seconds", "1.5", "--senders", "8",
         "--converge-timeout", "60", "--database-url", db_url]
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert "alert storm" in printed and "latency ms p50" in printed
    assert figures["statuses"] == {200: 60}
    assert figures["stored_groups"] == 6 and figures["stored_alerts"] == 60
    assert figures["alerts_per_group"] == [10, 10]
    assert figures["every_alert_once"] and figures["one_group_per_sender_group"]
    # One triage message per group (6 + the warm-up group), each shown up to date in time.
    assert figures["triage_messages"] == 7 and figures["one_message_per_group"]
    assert figures["triage_seconds"] is not None
    assert figures["latency_ms_p50"] < 1000  # not a timing test: only that answers came
