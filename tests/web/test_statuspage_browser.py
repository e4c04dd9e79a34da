"""The status page in a real browser: Debian's headless Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from playground.emulator import SlackDriver, SlackEmulator
from tests.conftest import Workspace
from tests.harness import RunningBot
from tests.scenarios import declare, must
from tests.statuspage_fixtures import page_file

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
# Set to a folder (e.g. docs/images) to keep the screenshots.
SCREENSHOTS = os.environ.get("STATUSPAGE_SCREENSHOTS", "")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (scripts/test installs Debian's chromium as root)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        except Exception as exc:  # a broken install: say why instead of failing every test
            pytest.skip(f"Chromium did not start: {exc}")
        yield chromium
        chromium.close()


@pytest.fixture
def page_bot(
    start_bot: Callable[..., RunningBot], workspace: Workspace, tmp_path: Path
) -> RunningBot:
    return start_bot(  # components are set by incident admins
        status_page_file=page_file(tmp_path),
        status_page_refresh_seconds=0.2,
        incident_admins=workspace.alice,
    )


def _shot(page: Any, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(SCREENSHOTS) / name)


@pytest.mark.scenario
def test_page_renders_and_a_message_from_slack_appears_after_reload(
    browser: Any,
    page_bot: RunningBot,
    slack: SlackEmulator,
    workspace: Workspace,
    tmp_path: Path,
) -> None:
    driver: SlackDriver = page_bot.driver(slack)
    incident = declare(
        page_bot,
        driver,
        slack,
        user=workspace.alice,
        channel=workspace.general,
        title="Card payments fail",
    )
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(page_bot.base_url + "/status")
    assert page.title() == "Acme Status"
    assert page.locator(".banner").inner_text() == "All Systems Operational"
    assert page.locator(".components > li").count() == 3  # API, Website, the Payments group
    assert page.get_by_text("Card payments fail").count() == 0  # internal until published
    driver.slash_command(
        "component Card payments partial outage", user=workspace.alice, channel=workspace.general
    )
    from tests.statuspage_fixtures import api, eventually

    eventually(  # commands run after their ack: wait for this one before the next
        lambda: (
            "partial_outage"
            in [c["status"] for c in api(page_bot, "components.json")["components"]]
        )
    )
    driver.slash_command(
        "statuspage Some card payments fail; we are investigating.",
        user=workspace.alice,
        channel=must(incident.channel_id),
    )
    for _ in range(50):
        page.reload()
        if page.get_by_text("Some card payments fail").count():
            break
        page.wait_for_timeout(100)
    assert page.get_by_text("Some card payments fail; we are investigating.").is_visible()
    assert page.get_by_role("heading", name="Card payments fail").is_visible()
    # Keyboard: today's bar of the degraded component takes focus and shows its tooltip.
    today = page.get_by_role("list", name="Card payments").locator("li").last
    today.focus()
    assert today.locator(".tip").is_visible()
    assert "Partial outage" in (today.get_attribute("aria-label") or "")
    _shot(page, tmp_path, "statuspage-desktop.png")
    phone = browser.new_page(viewport={"width": 390, "height": 844}, color_scheme="dark")
    phone.goto(page_bot.base_url + "/status")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    _shot(phone, tmp_path, "statuspage-phone.png")
    phone.goto(page_bot.base_url + "/status/history")
    assert phone.get_by_role("heading", name="Incident history").is_visible()


class _Site(BaseHTTPRequestHandler):
    html = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.html)))
        self.end_headers()
        self.wfile.write(self.html)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.scenario
def test_embed_and_api_work_from_a_page_on_another_origin(
    browser: Any, page_bot: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    driver = page_bot.driver(slack)
    incident = declare(
        page_bot,
        driver,
        slack,
        user=workspace.alice,
        channel=workspace.general,
        title="Login <b>errors</b>",
    )
    driver.slash_command(  # as Slack sends typed text: `<`, `>` and `&` escaped
        "statuspage Logins fail &lt;script&gt;window.pwned=1&lt;/script&gt;",
        user=workspace.alice,
        channel=must(incident.channel_id),
    )
    from tests.statuspage_fixtures import api, eventually

    eventually(lambda: api(page_bot, "incidents.json")["incidents"])
    bot = page_bot.base_url
    _Site.html = f"""<!doctype html><html><body><h1>Customer site</h1>
<div id="statuspage-embed"></div>
<script src="{bot}/embed/status.js"></script>
<iframe id="frame" src="{bot}/embed" title="status" width="400" height="120"></iframe>
<p id="api">waiting</p>
<script>
fetch("{bot}/api/v2/status.json").then(r => r.json())
  .then(d => document.getElementById("api").textContent = d.status.indicator)
  .catch(e => document.getElementById("api").textContent = "blocked: " + e);
</script></body></html>""".encode()
    server = ThreadingHTTPServer(("127.0.0.2", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        origin = f"http://127.0.0.2:{server.server_address[1]}"
        assert origin.split(":")[2] != bot.split(":")[2] or origin != bot
        page = browser.new_page()
        page.goto(origin + "/")
        widget = page.locator("#statuspage-embed")
        widget.get_by_text("Minor Service Outage").wait_for()
        assert "Login <b>errors</b> \u2013 Logins fail <script>window.pwned=1</script>" in (
            widget.inner_text()
        )
        assert page.evaluate("window.pwned") is None  # user text never ran as script
        page.wait_for_function("document.getElementById('api').textContent !== 'waiting'")
        assert page.locator("#api").inner_text() == "minor"  # CORS let the other origin read
        frame = page.frame_locator("#frame")
        assert "Minor Service Outage" in frame.locator("body").inner_text()
        assert "Login <b>errors</b>" in frame.locator("body").inner_text()
    finally:
        server.shutdown()
