"""The notice senders against a real SMTP server, fake Twilio/Vonage/Mastodon APIs built from
their documentation, and a webhook receiver that verifies signatures."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.sending import Permanent, Retryable, SendError
from bot.outbound.mastodon import MastodonSender
from bot.outbound.notice_mail import NoticeMailSender
from bot.outbound.sms import SmsSender, Twilio, Vonage
from bot.outbound.webhook import WebhookSender, body_of
from bot.settings import load_settings
from bot.stakeholders.config import EVENT_TRIGGERS
from bot.stakeholders.notice import Notice
from bot.stakeholders.planning import notice_key
from bot.stakeholders.webhooks import Webhook
from bot.stakeholders.wording import facts, sms_segments, sms_text
from tests.fake_providers import (
    MASTODON_TOKEN,
    TWILIO_SID,
    TWILIO_TOKEN,
    VONAGE_KEY,
    VONAGE_SECRET,
    FakeProviders,
)
from tests.smtp_server import SmtpServer
from tests.webhook_receiver import WebhookReceiver

PAYLOAD: dict[str, Any] = {
    "incident_id": 3,
    "number": 12,
    "title": "Checkout <script>alert(1)</script> & payments down",
    "severity": "sev1",
    "old_severity": None,
    "status": "investigating",
    "summary": "Errors <b>since</b> 10:02",
    "impact": "Card payments fail for EU customers",
    "resolution": "",
    "manager": "U0ALICE",
    "manager_name": "Alice Example",
    "actor": "U0ALICE",
    "declared_at": "2026-03-02T12:00:00+00:00",
    "resolved_at": None,
    "trigger": "declared",
    "at": "2026-03-02T12:00:00+00:00",
    "message": "",
    "next_update_at": "2026-03-02T12:15:00+00:00",
    "status_page_url": "https://status.acme.example",
    "thread": "incident-3.1772452800",
}


def notice(channel: str, recipient: str, *, trigger: str = "declared", **payload: Any) -> Notice:
    ref = "declared" if trigger == "declared" else f"{trigger}:1"
    return Notice(
        id=1,
        key=notice_key(3, ref, channel, recipient),
        incident_id=3,
        channel=channel,
        recipient=recipient,
        trigger=trigger,
        event=ref,
        group="Management",
        quadrant="keep_satisfied",
        payload={**PAYLOAD, "trigger": trigger, **payload},
        attempts=0,
    )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- e-mail ----------------------------------------------------------------------------------


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    with SmtpServer(tmp_path) as server:
        yield server


def test_email_is_multipart_escaped_and_threaded(smtp: SmtpServer) -> None:
    sender = NoticeMailSender(load_settings(env_file=None, **smtp.settings()))
    declared = notice("email", "cto@acme.example")
    update = notice("email", "cto@acme.example", trigger="update", message="Rolled <i>back</i>")
    sender.send(declared)
    sender.send(update)
    sender.send(update)  # a retry: the same Message-ID
    first, second, third = (m.message for m in smtp.messages)
    assert first["To"] == "cto@acme.example"
    assert first["Subject"].startswith("SEV1 incident #12 declared: Checkout")
    root = first["Message-ID"]
    assert root.endswith("@acme.example>")
    assert first["In-Reply-To"] is None
    assert second["In-Reply-To"] == root and second["References"] == root
    assert second["Message-ID"] != root and second["Message-ID"] == third["Message-ID"]
    html = second.get_body(("html",))
    text = second.get_body(("plain",))
    assert html is not None and text is not None
    content = html.get_content()
    assert "<script>" not in content and "&lt;script&gt;" in content
    assert "Rolled &lt;i&gt;back&lt;/i&gt;" in content
    assert 'href="https://status.acme.example"' in content
    plain = text.get_content()
    assert "Rolled <i>back</i>" in plain and "https://status.acme.example" in plain
    assert "Who leads: Alice Example" in plain and "Next update: 2026-03-02 12:15 UTC" in plain


def test_email_templates_can_be_replaced(smtp: SmtpServer, tmp_path: Path) -> None:
    custom = tmp_path / "templates"
    custom.mkdir()
    (custom / "notice.txt.j2").write_text("ACME NOTICE {{ headline }} -> {{ status_page_url }}\n")
    settings = load_settings(
        env_file=None, **smtp.settings(), stakeholder_templates_dir=str(custom)
    )
    NoticeMailSender(settings).send(notice("email", "cto@acme.example"))
    [got] = smtp.messages
    text = got.message.get_body(("plain",))
    assert text is not None and text.get_content().startswith("ACME NOTICE SEV1 incident #12")
    assert got.message.get_body(("html",)) is not None  # the built-in HTML still applies


def test_a_broken_template_stops_start_up(tmp_path: Path) -> None:
    (tmp_path / "notice.html.j2").write_text("{{ incident.nope }}")
    from bot.core.errors import ConfigError

    with pytest.raises(ConfigError, match="STAKEHOLDER_TEMPLATES_DIR"):
        load_settings(env_file=None, stakeholder_templates_dir=str(tmp_path))


def test_email_failures_are_classified(smtp: SmtpServer) -> None:
    smtp.handler.fail_with = "451 4.3.0 Try again later"
    sender = NoticeMailSender(load_settings(env_file=None, **smtp.settings()))
    with pytest.raises(Retryable):
        sender.send(notice("email", "cto@acme.example"))
    wrong = load_settings(env_file=None, **{**smtp.settings(), "smtp_password": "nope"})
    with pytest.raises(Permanent):
        NoticeMailSender(wrong).send(notice("email", "cto@acme.example"))
    down = load_settings(env_file=None, **{**smtp.settings(), "smtp_port": _closed_port()})
    with pytest.raises(Retryable):
        NoticeMailSender(down).send(notice("email", "cto@acme.example"))


# -- SMS -------------------------------------------------------------------------------------


@pytest.fixture
def fakes() -> Iterator[FakeProviders]:
    with FakeProviders() as server:
        yield server


def twilio(fakes: FakeProviders, token: str = TWILIO_TOKEN) -> SmsSender:
    return SmsSender(Twilio(TWILIO_SID, token, "+15550001111", fakes.url))


def vonage(fakes: FakeProviders, secret: str = VONAGE_SECRET) -> SmsSender:
    return SmsSender(Vonage(VONAGE_KEY, secret, "+15550001111", fakes.url))


def test_sms_fits_two_segments_and_keeps_the_link() -> None:
    long = notice(
        "sms",
        "+15551230000",
        trigger="update",
        title="Checkout " * 40,
        message="We rolled back the deploy and are watching error rates closely. " * 10,
    )
    text = sms_text(facts(long.payload))
    assert sms_segments(text) <= 2 and text.endswith(" https://status.acme.example")
    assert text.startswith("SEV1 incident #12 update: Checkout")
    emoji = notice("sms", "+15551230000", title="Zahlungen 💳 gestört " * 20)
    text = sms_text(facts(emoji.payload))
    assert sms_segments(text) <= 2 and text.endswith("https://status.acme.example")
    short = sms_text(facts(notice("sms", "+15551230000").payload))
    assert sms_segments(short) <= 2
    assert "Lead: Alice Example." in short and "Next update 2026-03-02 12:15 UTC." in short


def test_twilio_sends_the_documented_request(fakes: FakeProviders) -> None:
    twilio(fakes).send(notice("sms", "+15551230000"))
    [call] = fakes.calls_to("twilio")
    assert call.status == 201 and call.answer["sid"].startswith("SM")
    assert call.path == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    assert call.form["To"] == "+15551230000" and call.form["From"] == "+15550001111"
    assert call.form["Body"].endswith("https://status.acme.example")
    assert int(call.answer["num_segments"]) <= 2


@pytest.mark.parametrize(
    ("status", "error", "retry_after"),
    [(429, Retryable, 7.0), (500, Retryable, None), (503, Retryable, None), (400, Permanent, None)],
)
def test_twilio_failures(
    fakes: FakeProviders, status: int, error: type[SendError], retry_after: float | None
) -> None:
    fakes.fail("twilio", status, headers={"Retry-After": "7"} if status == 429 else None)
    with pytest.raises(error) as failure:
        twilio(fakes).send(notice("sms", "+15551230000"))
    assert failure.value.retry_after == retry_after
    assert fakes.texts == []


def test_twilio_refuses_bad_credentials_and_numbers(fakes: FakeProviders) -> None:
    with pytest.raises(Permanent, match="HTTP 401: error 20003"):
        twilio(fakes, token="wrong").send(notice("sms", "+15551230000"))
    with pytest.raises(Permanent, match="error 21211"):
        twilio(fakes).send(notice("sms", "15551230000"))


def test_sms_without_an_answer_is_not_sent_again(fakes: FakeProviders) -> None:
    fakes.fail("twilio", 0, drop=True)
    with pytest.raises(Permanent, match="may have been sent"):
        twilio(fakes).send(notice("sms", "+15551230000"))


def test_sms_provider_down_is_retryable() -> None:
    sender = SmsSender(
        Twilio(TWILIO_SID, TWILIO_TOKEN, "+1555", f"http://127.0.0.1:{_closed_port()}")
    )
    with pytest.raises(Retryable, match="unreachable"):
        sender.send(notice("sms", "+15551230000"))


def test_vonage_sends_the_documented_request(fakes: FakeProviders) -> None:
    vonage(fakes).send(notice("sms", "+15551230000"))
    [call] = fakes.calls_to("vonage")
    assert call.form["to"] == "15551230000" and call.form["from"] == "15550001111"
    assert call.form["api_key"] == VONAGE_KEY and "type" not in call.form
    assert call.answer["messages"][0]["status"] == "0"
    vonage(fakes).send(notice("sms", "+15551230000", title="Zahlungen 💳 gestört"))
    assert fakes.calls_to("vonage")[-1].form["type"] == "unicode"
    assert "💳" in fakes.texts[-1]["body"]


def test_vonage_failures(fakes: FakeProviders) -> None:
    fakes.vonage_status.append(("1", "Throughput Rate Exceeded - please wait [ 1000 ] and retry"))
    with pytest.raises(Retryable, match="status 1"):
        vonage(fakes).send(notice("sms", "+15551230000"))
    fakes.fail("vonage", 429)
    with pytest.raises(Retryable, match="HTTP 429"):
        vonage(fakes).send(notice("sms", "+15551230000"))
    fakes.fail("vonage", 500)
    with pytest.raises(Retryable, match="HTTP 500"):
        vonage(fakes).send(notice("sms", "+15551230000"))
    with pytest.raises(Permanent, match="status 4: Bad Credentials"):
        vonage(fakes, secret="wrong").send(notice("sms", "+15551230000"))
    assert fakes.texts == []


# -- Mastodon ----------------------------------------------------------------------------------


def mastodon(fakes: FakeProviders, token: str = MASTODON_TOKEN) -> MastodonSender:
    return MastodonSender(fakes.url, token)


def test_mastodon_posts_once_per_idempotency_key(fakes: FakeProviders) -> None:
    item = notice("mastodon", "public", trigger="update", message="Payments recovered")
    fakes.fail("mastodon", 0, drop=True)  # the post may land but the answer is lost...
    with pytest.raises(Retryable):
        mastodon(fakes).send(item)
    mastodon(fakes).send(item)  # ...the retry carries the same key
    mastodon(fakes).send(item)
    assert len(fakes.posted) == 1
    calls = fakes.calls_to("mastodon")
    assert {c.headers["idempotency-key"] for c in calls} == {item.key}
    assert calls[-1].headers["authorization"] == f"Bearer {MASTODON_TOKEN}"
    assert "Payments recovered" in fakes.posted[0]["text"]
    assert fakes.posted[0]["text"].endswith("https://status.acme.example")


def test_mastodon_failures(fakes: FakeProviders) -> None:
    item = notice("mastodon", "public")
    fakes.fail("mastodon", 429)
    with pytest.raises(Retryable) as limited:
        mastodon(fakes).send(item)
    assert limited.value.retry_after is not None and limited.value.retry_after <= 1.5
    fakes.fail("mastodon", 500)
    with pytest.raises(Retryable, match="HTTP 500"):
        mastodon(fakes).send(item)
    with pytest.raises(Permanent, match="access token is invalid"):
        mastodon(fakes, token="wrong").send(item)
    with pytest.raises(Permanent, match="HTTP 422: Validation failed"):
        mastodon(fakes).send(notice("mastodon", "public", post_text="x" * 501))
    assert fakes.posted == []


def test_mastodon_counts_a_link_as_23_characters_and_gives_the_status_url(
    fakes: FakeProviders,
) -> None:
    text = "x" * 470 + " https://status.acme.example/" + "y" * 100  # 471 + 23 on Mastodon
    url = mastodon(fakes).send(notice("mastodon", "public", post_text=text))
    assert url is not None and url.startswith("https://social.example/@acme/")
    assert [p["text"] for p in fakes.posted] == [text]


# -- webhooks ----------------------------------------------------------------------------------

SECRET = "a-webhook-secret-of-some-length"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as server:
        yield server


def hook_sender(url: str, secret: str = SECRET) -> WebhookSender:
    return WebhookSender((Webhook(url, secret, EVENT_TRIGGERS),))


def test_webhooks_are_signed_and_verified(receiver: WebhookReceiver) -> None:
    item = notice("webhook", receiver.url, trigger="severity_changed", old_severity="sev2")
    hook_sender(receiver.url).send(item)
    [delivery] = receiver.deliveries
    assert delivery.event == "incident.severity_changed" and delivery.delivery_id == item.key
    assert delivery.body["incident"]["number"] == 12
    assert delivery.body["severity_change"] == {"from": "sev2", "to": "sev1"}
    assert delivery.body == __import__("json").loads(body_of(item))
    with pytest.raises(Permanent, match="HTTP 401"):
        hook_sender(receiver.url, secret="not-the-shared-secret").send(item)
    assert receiver.refused == ["bad signature"]


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, Retryable), (503, Retryable), (429, Retryable), (410, Permanent), (302, Permanent)],
)
def test_webhook_failures(receiver: WebhookReceiver, status: int, error: type[SendError]) -> None:
    receiver.answer_with(status)
    with pytest.raises(error, match=f"HTTP {status}"):
        hook_sender(receiver.url).send(notice("webhook", receiver.url))
    assert receiver.deliveries == []


def test_a_webhook_removed_from_the_file_is_permanent(receiver: WebhookReceiver) -> None:
    with pytest.raises(Permanent, match="no longer in WEBHOOKS_FILE"):
        WebhookSender(()).send(notice("webhook", receiver.url))
