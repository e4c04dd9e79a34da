"""/console/insights and its CSV export, on a seeded history."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from datetime import timedelta

import pytest

from playground.emulator import SlackEmulator
from storage.models import Incident
from storage.types import utcnow
from tests.conftest import Workspace
from tests.console import sign_in, start_console_bot
from tests.harness import RunningBot

pytestmark = pytest.mark.scenario


@pytest.fixture
def seeded(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace
) -> RunningBot:
    bot = start_console_bot(start_bot, slack)
    secret = slack.add_channel("inc-3-secret", private=True, members=[workspace.alice])
    now = utcnow()
    rows = []
    for n, (title, severity, ack_min, resolve_h, private) in enumerate(
        [
            ('=HYPERLINK("http://x")', "sev1", 2, 1, False),
            ("Queue backlog", "sev2", 6, 3, False),
            ("Secret outage", "sev1", 30, 20, True),
        ],
        start=1,
    ):
        declared = now - timedelta(days=10 - n)
        rows.append(
            Incident(
                number=n,
                title=title,
                severity=severity,
                declared_by=workspace.alice,
                declare_key=f"k{n}",
                private=private,
                channel_id=secret if private else f"CPUB{n}",
                status="resolved",
                declared_at=declared,
                # #2 came from an alert that started 4 minutes before it was declared.
                detected_at=declared - timedelta(minutes=4) if n == 2 else None,
                acknowledged_at=declared + timedelta(minutes=ack_min),
                resolved_at=declared + timedelta(hours=resolve_h),
            )
        )
    with bot.runtime.services.db.session() as session:
        session.add_all(rows)
    return bot


def _chart(page: str) -> dict[str, object]:
    found = re.search(r'<script type="application/json" id="insights-data">(.*?)</script>', page)
    assert found is not None
    data: dict[str, object] = json.loads(found.group(1))
    return data


def test_insights_page_and_csv(
    seeded: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    alice = sign_in(seeded, slack, workspace.alice)
    page = alice.get(seeded.base_url + "/console/insights").text
    assert "3 incidents declared in the last 30 days" in page
    # Acknowledge 2, 6, 30 min: median 6m; resolve 1, 3, 20 h: median 3h.
    assert re.search(
        r'data-measure="acknowledge">\s*<div>Time to acknowledge</div>\s*'
        r'<div class="value">6m</div>',
        page,
    )
    assert re.search(
        r'data-measure="resolve">\s*<div>Time to resolve</div>\s*'
        r'<div class="value">3h</div>',
        page,
    )
    # Time to detect: only #2 had an alert (4 minutes before it was declared).
    assert re.search(
        r'data-measure="detect">\s*<div>Time to detect</div>\s*'
        r'<div class="value">4m</div>\s*<div class="note">median · p90 4m · 1 incidents',
        page,
    )
    # Readiness: managers acknowledged after 2, 6 and 30 minutes (one within 5).
    assert re.search(
        r'<tr data-habit="manager"><td>An incident manager</td><td>33%</td>'
        r"<td>1 of 3 incidents had a manager within 5 minutes \(33%\).</td>",
        page,
    )
    assert '<tr data-habit="alerts"><td>Monitoring and alerts</td><td>—</td>' in page
    assert '<script src="/console/static/vendor/chart.umd.min.js" defer></script>' in page
    assert _chart(page)["severity_counts"] == [2, 1, 0, 0]
    js = alice.get(seeded.base_url + "/console/static/vendor/chart.umd.min.js")
    assert js.status_code == 200 and "Chart.js v4" in js.text[:200]

    export = alice.get(seeded.base_url + "/console/insights.csv?days=90")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [r["number"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["title"] == '\'=HYPERLINK("http://x")'  # never a formula
    assert rows[1]["seconds_to_acknowledge"] == "360"
    assert rows[1]["seconds_to_detect"] == "240" and rows[0]["seconds_to_detect"] == ""
    assert rows[1]["detected_at"] and rows[0]["detected_at"] == ""
    assert rows[1]["seconds_to_resolve"] == "10800" and rows[1]["seconds_to_identify"] == ""


def test_non_member_figures_leave_out_private_incidents(
    seeded: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    bob = sign_in(seeded, slack, workspace.bob)
    page = bob.get(seeded.base_url + "/console/insights").text
    assert "2 incidents declared" in page and "Secret outage" not in page
    assert _chart(page)["severity_counts"] == [1, 1, 0, 0]
    # Resolve 1 h and 3 h: median 2h (the private 20 h one is not counted).
    assert re.search(
        r'data-measure="resolve">\s*<div>Time to resolve</div>\s*'
        r'<div class="value">2h</div>',
        page,
    )
    export = bob.get(seeded.base_url + "/console/insights.csv?days=90").text
    assert "Secret outage" not in export and len(export.strip().splitlines()) == 3
