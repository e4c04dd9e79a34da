"""The console in headless Chromium: sign in through the emulator, render, filter, search,
the insights charts drawn by Chart.js. Skipped, with the reason, without Chromium or
Playwright (scripts/test-deps installs Debian's chromium).

CONSOLE_SCREENSHOTS=docs/images writes the screenshots the README shows.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from playground.emulator import SlackEmulator
from storage.models import Incident, IncidentRole, IncidentUpdate
from storage.types import utcnow
from tests.conftest import Workspace
from tests.console import start_console_bot
from tests.harness import RunningBot

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.scenario


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (scripts/test-deps installs Debian's chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        try:
            chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        except Exception as exc:  # a browser that cannot start here: say why
            pytest.skip(f"Chromium did not start: {str(exc).splitlines()[0]}")
        yield chromium
        chromium.close()


def _seed(bot: RunningBot, people: list[str]) -> None:
    now = utcnow()
    titles = [
        ("Checkout returns 500s", "sev1", 25),
        ("Search latency above 2 s", "sev2", 180),
        ("Delayed e-mail notifications", "sev3", 600),
        ("Login page slow in EU", "sev2", 75),
        ("Webhook deliveries failing", "sev1", 40),
        ("Stale dashboard numbers", "sev4", 1440),
    ]
    with bot.runtime.services.db.session() as session:
        for n, (title, severity, minutes) in enumerate(titles * 3, start=1):
            declared = now - timedelta(days=40 - 2 * n, hours=n)
            resolved = n > 2
            incident = Incident(
                number=n,
                title=title,
                severity=severity,
                summary=f"{title}: customers affected",
                declared_by=people[n % 3],
                declare_key=f"b{n}",
                channel_id=f"CBR{n:05d}",
                channel_name=f"inc-{n}",
                status="resolved" if resolved else "identified",
                declared_at=declared,
                acknowledged_at=declared + timedelta(minutes=2 + n % 7),
                identified_at=declared + timedelta(minutes=minutes // 3),
                monitoring_at=declared + timedelta(minutes=minutes // 2) if resolved else None,
                resolved_at=declared + timedelta(minutes=minutes) if resolved else None,
            )
            session.add(incident)
            session.flush()
            assert incident.id is not None
            session.add(
                IncidentRole(
                    incident_id=incident.id,
                    role="incident_manager",
                    user_id=people[n % 3],
                    assigned_by=people[0],
                )
            )
            session.add(
                IncidentUpdate(
                    incident_id=incident.id,
                    author=people[n % 3],
                    message="Rolled back the pineapple deploy" if n == 4 else "Investigating",
                    posted_at=declared + timedelta(minutes=5),
                )
            )


def _shot(page: Any, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    target = os.environ.get("CONSOLE_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(target) / name)


def test_console_in_chromium(
    browser: Any,
    start_bot: Callable[..., RunningBot],
    slack: SlackEmulator,
    workspace: Workspace,
    tmp_path: Path,
) -> None:
    bot = start_console_bot(start_bot, slack)
    _seed(bot, [workspace.alice, workspace.bob, workspace.carol])
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    missing: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)

    # Sign in with Slack: the emulator's consent page, then back to the console.
    page.goto(bot.base_url + "/console/incidents")
    assert page.url.startswith(slack.url + "/openid/connect/authorize")
    page.get_by_role("button", name="Continue as Bob Baker").click()
    page.wait_for_url(bot.base_url + "/console/incidents")
    assert page.locator("header .who").inner_text() == "Bob Baker"
    rows = page.locator("table.list tbody tr")
    assert rows.count() == 18
    _shot(page, tmp_path, "console-incidents.png")

    # Filter (plain form submission), then search.
    page.select_option("select[name=severity]", "sev1")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**severity=sev1**")
    titles = page.locator("table.list tbody tr td:nth-child(2) a").all_inner_texts()
    assert len(titles) == 6 and set(titles) == {
        "Checkout returns 500s",
        "Webhook deliveries failing",
    }
    page.goto(bot.base_url + "/console/incidents")
    page.fill("input[name=q]", "pineapple")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**q=pineapple**")
    assert page.locator("table.list tbody tr td:nth-child(2) a").all_inner_texts() == [
        "Login page slow in EU"
    ]
    page.locator("table.list tbody a").first.click()
    page.wait_for_url(bot.base_url + "/console/incidents/4")
    assert "Rolled back the pineapple deploy" in page.content()

    # Insights: figures, and the charts drawn by the vendored Chart.js (no CSP errors).
    page.goto(bot.base_url + "/console/insights?days=90")
    page.wait_for_selector("body[data-charts=drawn]", timeout=10_000)
    assert page.locator("canvas#chart-weekly").bounding_box()["height"] > 100
    assert page.evaluate("typeof Chart") == "function"
    _shot(page, tmp_path, "console-insights.png")
    # Nothing failed to load but the favicon, which the console does not have.
    assert [u for u in missing if not u.endswith("/favicon.ico")] == []
    assert [e for e in errors if "404" not in e] == [], errors

    # Sign out.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_selector("text=Signed out")  # the click navigates: wait for the new page
    assert "Signed out" in page.content()
    page.goto(bot.base_url + "/console/incidents")
    assert page.url.startswith(slack.url + "/openid/connect/authorize")
    context.close()
