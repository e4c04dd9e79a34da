"""Status page subscriber mails through the one e-mail channel and the delivery engine,
against a real SMTP server (aiosmtpd, STARTTLS and AUTH): a stable Message-ID per mail, one
thread per public incident, a transient refusal retried, a refusal given up with its error,
two replicas sending each mail once, an unsubscribed reader skipped. Both databases."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.outbound.notice_mail import MailChannel, SubscriberMailSend
from bot.settings import load_settings
from bot.slack.delivery import Runner
from bot.statuspage import subscriptions
from bot.statuspage.config import PageConfig
from bot.statuspage.mail_claims import MailConfig, StatusMailSource, SubscriberMail
from storage import Database
from storage.models_statuspage import StatusMail, StatusSubscriber
from tests.bot.test_statuspage import T0, _declare, _publish, config, page  # noqa: F401
from tests.smtp_server import SmtpServer


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    with SmtpServer(tmp_path) as server:
        yield server


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def runner(
    db: Database, cfg: PageConfig, smtp: SmtpServer, clock: Clock, owner: str = "a"
) -> Runner[SubscriberMail]:
    channel = MailChannel(load_settings(env_file=None, **smtp.settings()))
    source = StatusMailSource(MailConfig(lease=timedelta(minutes=2), page=cfg))
    return Runner(db, source, SubscriberMailSend(channel), owner=owner, clock=clock)


def subscribed(db: Database, cfg: PageConfig, email: str) -> StatusSubscriber:
    with db.session() as session:
        subscriptions.subscribe(session, config=cfg, email=email, component_ids=[], now=T0)
    with db.session() as session:
        row = session.exec(select(StatusSubscriber).where(StatusSubscriber.email == email)).one()
        subscriptions.confirm(session, token=row.token, now=T0)
        return row


def mails(db: Database) -> list[StatusMail]:
    with db.read() as session:
        return list(session.exec(select(StatusMail).order_by(StatusMail.id)).all())  # type: ignore[arg-type]


def test_confirmation_and_updates_go_out_once_in_one_thread(
    page: Database,  # noqa: F811
    config: PageConfig,  # noqa: F811
    smtp: SmtpServer,
) -> None:
    clock = Clock(T0)
    subscribed(page, config, "ann@example.com")
    incident = _declare(page)
    _publish(page, config, incident, "API errors <b>now</b>")
    _publish(page, config, incident, "Recovering", now=T0 + timedelta(minutes=5))
    clock.at = T0 + timedelta(minutes=5)
    sent = runner(page, config, smtp, clock).tick()
    assert sent["sent"] == 3
    assert runner(page, config, smtp, clock).tick()["sent"] == 0  # nothing twice
    confirm, first, second = (m.message for m in smtp.messages)
    assert confirm["Subject"].startswith("Confirm your subscription")
    ids = [m.id for m in mails(page)]
    assert [confirm["Message-ID"], first["Message-ID"], second["Message-ID"]] == [
        f"<status-mail-{i}@status.acme.example>" for i in ids
    ]
    thread = first["In-Reply-To"]
    assert thread.startswith("<status-incident-") and second["In-Reply-To"] == thread
    assert first["References"] == thread and first["List-Unsubscribe"]
    html = first.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "&lt;b&gt;now&lt;/b&gt;" in html  # user text escaped in the HTML part
    assert {m.state for m in mails(page)} == {"sent"}


def test_a_transient_refusal_is_retried_and_a_refusal_given_up(
    page: Database,  # noqa: F811
    config: PageConfig,  # noqa: F811
    smtp: SmtpServer,
) -> None:
    clock = Clock(T0)
    subscribed(page, config, "ann@example.com")
    smtp.handler.fail_with = "451 4.3.0 try later"
    outcomes = runner(page, config, smtp, clock).tick()
    assert outcomes["sent"] == 0 and smtp.messages == []
    [row] = mails(page)
    assert row.state == "pending" and row.attempts == 1 and row.due_at is not None
    assert "451" in (row.last_error or "")
    smtp.handler.fail_with = None
    assert runner(page, config, smtp, clock).tick()["sent"] == 0  # not before the back-off
    clock.at = T0 + timedelta(seconds=5)
    assert runner(page, config, smtp, clock).tick()["sent"] == 1
    assert len(smtp.messages) == 1 and mails(page)[0].state == "sent"

    incident = _declare(page)
    smtp.handler.fail_with = "554 5.7.1 rejected"
    _publish(page, config, incident, "API errors", now=clock.at)
    runner(page, config, smtp, clock).tick()
    given_up = mails(page)[-1]
    assert (given_up.state, given_up.due_at) == ("pending", None)
    assert "554" in (given_up.last_error or "")
    clock.at += timedelta(hours=1)
    smtp.handler.fail_with = None
    assert runner(page, config, smtp, clock).tick()["sent"] == 0  # given up stays given up


def test_two_replicas_send_each_mail_once_and_unsubscribed_readers_get_nothing(
    page: Database,  # noqa: F811
    config: PageConfig,  # noqa: F811
    smtp: SmtpServer,
) -> None:
    clock = Clock(T0)
    for n in range(6):
        subscribed(page, config, f"reader{n}@example.com")
    gone = subscribed(page, config, "gone@example.com")
    incident = _declare(page)
    _publish(page, config, incident, "API errors")
    with page.session() as session:
        subscriptions.unsubscribe(session, token=gone.token, now=T0)
    replicas = [runner(page, config, smtp, clock, owner=o) for o in ("a", "b")]
    threads = [threading.Thread(target=r.tick) for r in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [m.message["Message-ID"] for m in smtp.messages]
    assert len(ids) == len(set(ids)) == 6 + 6  # confirmations and updates, each once
    assert all("gone@" not in ",".join(m.recipients) for m in smtp.messages)
    of_gone = [(m.state, m.due_at) for m in mails(page) if m.subscriber_id == gone.id]
    assert of_gone == [("dropped", None), ("dropped", None)]  # unsubscribed before sending
    assert {m.state for m in mails(page) if m.subscriber_id != gone.id} == {"sent"}
