"""The status page's HTTP side: caching headers, CORS, replicas, export, e-mail subscribers."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot import incidents
from bot.statuspage import publish
from storage.models import Incident
from tests.conftest import Workspace
from tests.harness import RunningBot
from tests.smtp_server import SmtpServer
from tests.statuspage_fixtures import PAGE_YAML, api, eventually, get, page_file, post_form

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def status_file(tmp_path: Path) -> str:
    return page_file(tmp_path)


def _publish(bot: RunningBot, title: str, message: str) -> None:
    config = bot.settings.status_page
    assert config is not None
    with bot.runtime.services.db.session() as session:
        incident, _ = incidents.declare(
            session, title=title, severity="sev2", declared_by="U0ALICE", declare_key=title
        )
        publish.publish(
            session,
            config=config,
            incident=incident,
            publication=publish.Publication(message=message),
            actor="U0ALICE",
        )


@pytest.mark.scenario
def test_served_from_memory_with_etag_last_modified_gzip_and_cors(
    start_bot: Callable[..., RunningBot], workspace: Workspace, status_file: str
) -> None:
    bot = start_bot(status_page_file=status_file)
    status, headers, body = get(bot, "/status")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert "Acme Status" in body and "All Systems Operational" in body
    assert headers["cache-control"].startswith("public, max-age=")
    etag, modified = headers["etag"], headers["last-modified"]
    assert get(bot, "/status", {"If-None-Match": etag})[0] == 304
    assert get(bot, "/status", {"If-Modified-Since": modified})[0] == 304
    assert get(bot, "/status", {"If-None-Match": '"other"'})[0] == 200
    request = urllib.request.Request(bot.base_url + "/status", headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(response.read()).decode() == body
    summary = api(bot, "summary.json")
    assert set(summary) == {"page", "components", "incidents", "scheduled_maintenances", "status"}
    assert summary["page"]["url"] == "https://status.acme.example"
    assert summary["page"]["time_zone"] == "UTC"
    preflight = urllib.request.Request(bot.base_url + "/api/v2/status.json", method="OPTIONS")
    with urllib.request.urlopen(preflight, timeout=10) as response:
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == "*"
    renders = bot.runtime.status_page.cache.renders  # type: ignore[union-attr]
    for _ in range(20):
        get(bot, "/api/v2/summary.json")
    assert bot.runtime.status_page.cache.renders == renders  # type: ignore[union-attr]
    _publish(bot, "API errors", "We are looking into it.")
    eventually(lambda: get(bot, "/status")[2].count("We are looking into it.") == 1)
    status, headers, _ = get(bot, "/status", {"If-None-Match": etag})
    assert status == 200 and headers["etag"] != etag


@pytest.mark.scenario
def test_without_a_page_file_the_routes_answer_404(bot: RunningBot) -> None:
    for path in ("/status", "/api/v2/summary.json", "/history.atom", "/badge.svg", "/embed"):
        assert get(bot, path)[0] == 404, path


@pytest.mark.scenario
def test_a_change_made_by_another_replica_is_noticed(
    start_bot: Callable[..., RunningBot], workspace: Workspace, status_file: str
) -> None:
    first = start_bot(status_page_file=status_file, status_page_refresh_seconds=0.2)
    second = start_bot(status_page_file=status_file, status_page_refresh_seconds=0.2)
    assert api(second, "incidents.json")["incidents"] == []
    second.runtime.status_page.cache.wake = lambda: None  # type: ignore[method-assign,union-attr]
    from bot.statuspage import state

    # Only the database tells `second`: its in-process notification is cut off above.
    _publish(first, "Queue backlog", "Jobs are delayed.")
    found = eventually(lambda: api(second, "incidents.json")["incidents"], timeout=5)
    assert found[0]["name"] == "Queue backlog"
    assert state is not None


def test_export_status_writes_the_page_api_and_feeds(db_url: str, tmp_path: Path) -> None:
    page = tmp_path / "status.yml"
    page.write_text(PAGE_YAML)
    out = tmp_path / "site"
    env = {"DATABASE_URL": db_url, "STATUS_PAGE_FILE": str(page), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "app.py", "export-status", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for relative in (
        "status/index.html",
        "status/history/index.html",
        "api/v2/summary.json",
        "api/v2/scheduled-maintenances/upcoming.json",
        "history.atom",
        "history.rss",
        "embed/status.js",
        "badge.svg",
        "index.html",
    ):
        assert (out / relative).is_file(), relative
    summary = json.loads((out / "api/v2/summary.json").read_text())
    assert [c["name"] for c in summary["components"]][:2] == ["API", "Website"]
    html = (out / "status/index.html").read_text()
    assert 'href="https://status.acme.example/status/history"' in html
    assert "/status/subscribe" not in html  # no server behind a static copy
    missing = subprocess.run(
        [sys.executable, "app.py", "export-status", str(out)],
        cwd=ROOT,
        env={"DATABASE_URL": db_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert missing.returncode == 2 and "STATUS_PAGE_FILE" in missing.stderr


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    with SmtpServer(tmp_path) as server:
        yield server


def _link(text: str, path: str) -> str:
    match = re.search(re.escape("https://status.acme.example" + path) + r"\?token=([\w-]+)", text)
    assert match is not None, text
    return match.group(1)


@pytest.mark.scenario
def test_subscribers_confirm_by_mail_get_updates_and_can_unsubscribe(
    start_bot: Callable[..., RunningBot], workspace: Workspace, status_file: str, smtp: SmtpServer
) -> None:
    bot = start_bot(status_page_file=status_file, scheduler_tick_seconds=0.2, **smtp.settings())
    status, body = post_form(bot, "/status/subscribe", {"email": "not-an-address"})
    assert status == 400 and "valid e-mail address" in body
    status, body = post_form(bot, "/status/subscribe", {"email": "ann@example.com"})
    assert status == 200 and "Check your inbox" in body
    [confirm] = eventually(lambda: smtp.messages)
    text = confirm.message.get_body(("plain",)).get_content()
    token = _link(text, "/status/subscribe/confirm")
    assert "/status/unsubscribe?token=" in text and confirm.message["List-Unsubscribe"]
    _publish(bot, "Before confirming", "Nobody is mailed yet.")
    status, page = get(bot, f"/status/subscribe/confirm?token={token}")[0:3:2]
    assert status == 200 and 'name="token"' in page  # a button: link scanners do not confirm
    assert post_form(bot, "/status/subscribe/confirm", {"token": token})[0] == 200
    _publish(bot, "Login <b>errors</b>", "Some logins fail <script>x</script>.")
    update = eventually(lambda: [m for m in smtp.messages if "Login" in m.message["Subject"]])[0]
    assert update.recipients == ["ann@example.com"]
    assert update.message["Subject"] == "[Acme Status] Investigating: Login <b>errors</b>"
    html = update.message.get_body(("html",)).get_content()
    assert "&lt;script&gt;" in html and "<script>" not in html
    plain = update.message.get_body(("plain",)).get_content()
    assert f"/status/unsubscribe?token={token}" in plain
    assert not [m for m in smtp.messages if "Before confirming" in m.message["Subject"]]
    assert (
        post_form(bot, f"/status/unsubscribe?token={token}", {"List-Unsubscribe": "One-Click"})[0]
        == 200
    )
    before = len(smtp.messages)
    _publish(bot, "After leaving", "Not mailed.")
    bot.runtime.services.status_page_jobs.tick()  # type: ignore[union-attr]
    assert len(smtp.messages) == before
    assert get(bot, "/status/unsubscribe?token=wrong")[0] == 404
    with bot.runtime.services.db.read() as session:
        assert session.get(Incident, 1) is not None
