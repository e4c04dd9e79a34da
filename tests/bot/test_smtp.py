"""bot.outbound.smtp against a real SMTP server (aiosmtpd) that requires STARTTLS and AUTH."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core.mail import OutgoingMail
from bot.outbound.smtp import MailError, SmtpMailer
from bot.settings import load_settings
from tests.smtp_server import SmtpServer


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    with SmtpServer(tmp_path) as server:
        yield server


def _mailer(**overrides: object) -> SmtpMailer:
    return SmtpMailer(load_settings(env_file=None, **overrides))


MAIL = OutgoingMail(
    to=("cto@acme.example", "vp@acme.example"),
    subject="[SEV1] INC-7 Checkout down",
    text="Checkout is down.\n",
    html="<p>Checkout is down &lt;b&gt;</p>",
    message_id="<inc-7.declared@acme.example>",
    thread_id="<inc-7@acme.example>",
    headers=(("List-Unsubscribe", "<https://status.acme.example/unsubscribe/x>"),),
)


def test_sends_over_starttls_with_auth(smtp: SmtpServer) -> None:
    _mailer(**smtp.settings()).send(MAIL)
    [got] = smtp.messages
    assert got.recipients == ["cto@acme.example", "vp@acme.example"]
    message = got.message
    assert message["Subject"] == "[SEV1] INC-7 Checkout down"
    assert message["Message-ID"] == "<inc-7.declared@acme.example>"
    assert message["In-Reply-To"] == "<inc-7@acme.example>"
    assert message["References"] == "<inc-7@acme.example>"
    assert message["List-Unsubscribe"] == "<https://status.acme.example/unsubscribe/x>"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and text.get_content().splitlines() == ["Checkout is down."]
    assert html is not None and "&lt;b&gt;" in html.get_content()


def test_wrong_password_is_a_permanent_failure(smtp: SmtpServer) -> None:
    with pytest.raises(MailError) as failure:
        _mailer(**{**smtp.settings(), "smtp_password": "wrong"}).send(MAIL)
    assert not failure.value.retryable
    assert smtp.messages == []


def test_untrusted_certificate_is_refused(smtp: SmtpServer) -> None:
    with pytest.raises(MailError) as failure:
        _mailer(**{**smtp.settings(), "smtp_ca_file": ""}).send(MAIL)
    assert not failure.value.retryable and "certificate" in str(failure.value)
    assert smtp.messages == []


def test_plain_connection_without_starttls_cannot_authenticate(smtp: SmtpServer) -> None:
    with pytest.raises(MailError):
        _mailer(**{**smtp.settings(), "smtp_tls": "none"}).send(MAIL)
    assert smtp.messages == []


def test_temporary_refusal_is_retryable(smtp: SmtpServer) -> None:
    smtp.handler.fail_with = "451 4.3.0 Try again later"
    with pytest.raises(MailError) as failure:
        _mailer(**smtp.settings()).send(MAIL)
    assert failure.value.retryable


def test_unreachable_server_is_retryable(smtp: SmtpServer) -> None:
    settings = {**smtp.settings(), "smtp_port": 1}
    with pytest.raises(MailError) as failure:
        _mailer(**settings).send(MAIL)
    assert failure.value.retryable


def test_unconfigured_mailer_refuses() -> None:
    with pytest.raises(MailError) as failure:
        _mailer().send(MAIL)
    assert not failure.value.retryable
