"""The console benchmark keeps working at a tiny size, on both databases."""

from __future__ import annotations

import json

import pytest

from bench import console_scale


@pytest.mark.scenario
def test_tiny_run(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--incidents", "300", "--timeline", "3000", "--requests", "3", "--json"]
    code = console_scale.main([*argv, "--database-url", db_url])
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["incidents"] == 300 and figures["timeline_entries"] == 3000
    assert figures["search_hits"] == figures["search_expected"] == 18  # 16, 32, ... 288
    for name in ("incident_list", "search", "insights_365d", "app_home_publish"):
        assert figures[name]["p99_ms"] > 0, name
    assert code in (0, 1) and isinstance(figures["within_targets"], bool)


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert console_scale.percentile(values, 99) == 99.0
    assert console_scale.percentile([3.0], 99) == 3.0
