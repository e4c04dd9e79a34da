"""Stakeholder mail across a SIGKILL: each person gets exactly one declaration mail.

The bot runs as `python app.py` in its own process, talking to the Slack emulator and to a
real SMTP server (STARTTLS + AUTH) of this test process through a proxy. The proxy lets the
first mail through and holds every later connection, so the kill lands while mails are
half-way: one delivered and recorded, the others not yet handed over.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from playground.emulator import SlackDriver, SlackEmulator
from storage import Database
from storage.models import Incident
from storage.models_stakeholders import StakeholderNotice
from tests.conftest import Workspace
from tests.harness import SIGNING_SECRET
from tests.processes import BotProcess
from tests.scenarios import open_declare_form, submit_declare
from tests.smtp_server import SmtpServer

pytestmark = pytest.mark.scenario

PEOPLE = ["cto@acme.example", "vp@acme.example", "coo@acme.example", "pm@acme.example"]


class HoldingProxy:
    """TCP proxy to the SMTP server: the first connection passes, later ones wait for `open`."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(32)
        self.port = int(self.sock.getsockname()[1])
        self.connections = 0
        self.gate = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            first = self.connections == 1
            threading.Thread(target=self._serve, args=(client, first), daemon=True).start()

    def _serve(self, client: socket.socket, first: bool) -> None:
        if not first:
            self.gate.wait()
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
        except OSError:
            client.close()
            return

        def pipe(src: socket.socket, dst: socket.socket) -> None:
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)

        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
        pipe(client, upstream)

    def close(self) -> None:
        self.gate.set()
        self.sock.close()


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    with SmtpServer(tmp_path) as server:
        yield server


def test_a_killed_bot_mails_each_person_exactly_once_after_restart(
    slack: SlackEmulator, workspace: Workspace, db_url: str, smtp: SmtpServer, tmp_path: Path
) -> None:
    groups = tmp_path / "stakeholders.yml"
    members = "\n".join(f"      - email: {p}" for p in PEOPLE[:3])
    groups.write_text(
        "groups:\n"
        "  - name: Management\n    quadrant: keep_satisfied\n    members:\n" + members + "\n"
        "  - name: Product\n    quadrant: manage_closely\n    members:\n"
        f"      - email: {PEOPLE[3]}\n"
    )
    proxy = HoldingProxy(smtp.port)
    settings = smtp.settings()
    env = {
        "SCHEDULER_TICK_SECONDS": "1",
        "NOTICE_LEASE_SECONDS": "5",
        "STAKEHOLDERS_FILE": str(groups),
        "STATUS_PAGE_URL": "https://status.acme.example",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(proxy.port),
        "SMTP_USERNAME": settings["smtp_username"],
        "SMTP_PASSWORD": settings["smtp_password"],
        "SMTP_TLS": "starttls",
        "SMTP_FROM": settings["smtp_from"],
        "SMTP_CA_FILE": settings["smtp_ca_file"],
    }
    log_path = tmp_path / "bots.log"
    database = Database(db_url)
    started: list[BotProcess] = []
    try:
        with log_path.open("w") as log:
            first = BotProcess(slack, db_url, log, env)
            started.append(first)
            first.wait_healthy()
            driver = SlackDriver(
                app_url=f"{first.url}/slack/events", signing_secret=SIGNING_SECRET, emulator=slack
            )
            view = open_declare_form(
                driver, slack, user=workspace.alice, channel=workspace.general, text="API down"
            )
            result = submit_declare(
                driver, view, user=workspace.alice, title="API down", severity="sev1"
            )
            assert result.status == 200
            # One mail gets through; the others are stuck in the proxy when the bot dies.
            slack.wait_for(lambda: len(smtp.messages) == 1 and proxy.connections >= 2, timeout=15)

            def recorded_sent() -> bool:
                with database.session() as session:
                    rows = session.exec(
                        select(StakeholderNotice).where(StakeholderNotice.state == "sent")
                    ).all()
                return len(rows) == 1

            slack.wait_for(recorded_sent, timeout=5)
            first.kill()
            with database.session() as session:
                assert session.exec(select(Incident)).one().number == 1
                states = Counter(n.state for n in session.exec(select(StakeholderNotice)).all())
            assert states == {"sent": 1, "pending": 3}
            proxy.gate.set()  # the mail server is reachable again
            second = BotProcess(slack, db_url, log, env)
            started.append(second)
            second.wait_healthy()
            slack.wait_for(lambda: len(smtp.messages) == 4, timeout=20)
            time.sleep(2)  # a couple more ticks: nothing else goes out
        got = Counter(r for m in smtp.messages for r in m.recipients)
        assert got == Counter(PEOPLE), got
        assert len({m.message["Message-ID"] for m in smtp.messages}) == 4
        with database.session() as session:
            assert {n.state for n in session.exec(select(StakeholderNotice)).all()} == {"sent"}
    finally:
        for bot in started:
            bot.stop()
        proxy.close()
        database.dispose()
        print(log_path.read_text()[-20000:])
