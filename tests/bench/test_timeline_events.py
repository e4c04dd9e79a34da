"""The timeline benchmark keeps working at a tiny size, on both databases."""

from __future__ import annotations

import json

import pytest

from bench import timeline_events


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert timeline_events.percentile(values, 50) == 50.0
    assert timeline_events.percentile(values, 99) == 99.0
    assert timeline_events.percentile([7.0], 99) == 7.0


@pytest.mark.scenario
def test_tiny_run_loses_and_duplicates_nothing(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--events", "50", "--rate", "100", "--incidents", "2", "--json"]
    code = timeline_events.main([*argv, "--database-url", db_url])
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0, figures
    assert figures["deliveries"] == 50
    assert figures["retries"] > 0 and figures["distinct_event_ids"] < 50
    assert figures["http_statuses"] == {"200": 50}
    assert figures["duplicates"] == 0
    assert figures["timeline_messages"] == figures["distinct_messages"]
    assert figures["event_receipts"] == figures["distinct_event_ids"]
    assert figures["ack_ms_p99"] > 0 and figures["acked_per_second"] > 0
