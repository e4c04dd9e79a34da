"""Stakeholder notices through the running bot: declaring in Slack mails the right groups over
a real SMTP server (STARTTLS + AUTH), and a mail server that never answers does not slow
Slack's acknowledgements down."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from playground.emulator import SlackEmulator
from storage.models_stakeholders import StakeholderNotice
from tests.conftest import Workspace
from tests.harness import RunningBot
from tests.scenarios import declare, must
from tests.smtp_server import SmtpServer

pytestmark = pytest.mark.scenario

STATUS_PAGE = "https://status.acme.example"


def write_groups(tmp_path: Path, workspace: Workspace) -> Path:
    path = tmp_path / "stakeholders.yml"
    path.write_text(
        f"""
groups:
  - name: Management
    quadrant: keep_satisfied
    severities: [sev1, sev2]
    members:
      - {{email: cto@acme.example}}
      - {{email: vp@acme.example}}
  - name: Product team
    quadrant: manage_closely
    members:
      - {{slack: {workspace.carol}, email: pm@acme.example}}
  - name: Everyone
    quadrant: monitor
    members:
      - email: all@acme.example
"""
    )
    return path


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    with SmtpServer(tmp_path) as server:
        yield server


def mails(smtp: SmtpServer, address: str) -> list[Any]:
    return [m.message for m in smtp.messages if address in m.recipients]


def test_declaring_and_resolving_mail_the_groups_that_need_it(
    start_bot: Callable[..., RunningBot],
    slack: SlackEmulator,
    workspace: Workspace,
    smtp: SmtpServer,
    tmp_path: Path,
) -> None:
    bot = start_bot(
        **smtp.settings(),
        stakeholders_file=str(write_groups(tmp_path, workspace)),
        status_page_url=STATUS_PAGE,
        scheduler_tick_seconds=1,
    )
    driver = bot.driver(slack)
    sev1 = declare(
        bot,
        driver,
        slack,
        user=workspace.alice,
        channel=workspace.general,
        title="Checkout is down",
        severity="sev1",
    )
    slack.wait_for(lambda: len(smtp.messages) == 3, timeout=10)
    for address in ("cto@acme.example", "vp@acme.example", "pm@acme.example"):
        [mail] = mails(smtp, address)
        assert mail["Subject"] == f"SEV1 incident #{sev1.number} declared: Checkout is down"
        assert STATUS_PAGE in mail.get_body(("plain",)).get_content()
    assert mails(smtp, "all@acme.example") == []  # monitor: nothing pushed
    slack.wait_for(lambda: len(slack.dms(workspace.carol)) == 1)  # manage_closely: a DM too
    slack.wait_for(lambda: workspace.carol in slack.members(must(sev1.channel_id)))  # invited

    sev4 = declare(
        bot,
        driver,
        slack,
        user=workspace.alice,
        channel=workspace.general,
        title="Search is a bit slow",
        severity="sev4",
    )
    slack.wait_for(lambda: len(mails(smtp, "pm@acme.example")) == 2, timeout=10)
    time.sleep(1.5)  # a tick later: still nothing for the group limited to SEV1 and SEV2
    assert len(mails(smtp, "cto@acme.example")) == 1

    channel = must(sev4.channel_id)
    opened = len(slack.calls_to("views.open"))
    driver.slash_command("resolve", user=workspace.alice, channel=channel)
    slack.wait_for("views.open", count=opened + 1)
    form = slack.modal(workspace.alice)
    driver.view_submission(
        form, {"resolution": {"resolution": "Rebuilt the index"}}, user=workspace.alice
    )
    slack.wait_for(lambda: len(mails(smtp, "pm@acme.example")) == 3, timeout=10)
    resolved = mails(smtp, "pm@acme.example")[-1]
    assert resolved["Subject"].startswith(f"SEV4 incident #{sev4.number} resolved")
    assert resolved["In-Reply-To"] == mails(smtp, "pm@acme.example")[1]["Message-ID"]
    assert len(mails(smtp, "cto@acme.example")) == 1


class Tarpit:
    """A 'mail server' that accepts connections and never says a word."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.held: list[socket.socket] = []
        self.accepting = threading.Thread(target=self._accept, daemon=True)
        self.accepting.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        for conn in self.held:
            conn.close()
        self.sock.close()


def test_an_unreachable_mail_server_never_delays_acknowledgements(
    start_bot: Callable[..., RunningBot],
    slack: SlackEmulator,
    workspace: Workspace,
    tmp_path: Path,
) -> None:
    tarpit = Tarpit()
    try:
        bot = start_bot(
            smtp_host="127.0.0.1",
            smtp_port=tarpit.port,
            smtp_tls="none",
            smtp_from="bot@acme.example",
            stakeholders_file=str(write_groups(tmp_path, workspace)),
            scheduler_tick_seconds=1,
        )
        driver = bot.driver(slack)
        declare(
            bot,
            driver,
            slack,
            user=workspace.alice,
            channel=workspace.general,
            title="Mail relay is down",
            severity="sev1",
        )
        slack.wait_for(lambda: len(tarpit.held) >= 1, timeout=10)  # a sender is stuck on it
        started = time.monotonic()
        for _ in range(5):
            result = driver.slash_command("list", user=workspace.bob, channel=workspace.general)
            assert result.status == 200
        assert (time.monotonic() - started) / 5 < 0.5
        second = declare(
            bot,
            driver,
            slack,
            user=workspace.bob,
            channel=workspace.general,
            title="Another one",
            severity="sev2",
        )
        assert second.setup_state == "complete"
        with bot.runtime.services.db.read() as session:
            rows = session.exec(
                select(StakeholderNotice).where(StakeholderNotice.channel == "email")
            ).all()
        assert rows and all(r.state == "pending" for r in rows)  # waiting, not dropped
    finally:
        tarpit.close()
