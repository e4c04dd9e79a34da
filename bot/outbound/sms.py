"""Stakeholder notices by SMS, through one provider interface (Twilio, Vonage).

A provider either accepts the message or raises: Retryable for rate limits (429, Vonage's
"throttled"), server errors and connections that never got through; Permanent for refusals
and bad credentials. A request that went out but got no answer is Permanent too: neither
provider de-duplicates requests, so sending it again might text the person twice.
"""

from __future__ import annotations

import base64
import logging
from typing import Protocol
from urllib.parse import quote, urlencode

from bot.core.sending import Permanent, Retryable, SendError, retry_after_seconds
from bot.outbound.http import NoAnswer, NotDelivered, Response, post
from bot.settings import Settings
from bot.stakeholders.notice import Notice
from bot.stakeholders.wording import facts, is_gsm, sms_text

log = logging.getLogger(__name__)

FORM = "application/x-www-form-urlencoded"


class SmsProvider(Protocol):
    """Sends one text message; returns the provider's id for it."""

    name: str

    def send_sms(self, to: str, text: str, reference: str) -> str: ...


def _transport(name: str, exc: Exception) -> SendError:
    if isinstance(exc, NotDelivered):
        return Retryable(f"{name} unreachable: {exc}")
    return Permanent(
        f"{name} did not answer ({exc}); the message may have been sent, so it is not "
        "sent again: check the provider's log"
    )


def _http_failure(name: str, response: Response, detail: str) -> SendError:
    status = response.status
    text = f"{name} answered HTTP {status}{': ' + detail if detail else ''}"
    if status == 429 or status >= 500:
        return Retryable(text, retry_after=retry_after_seconds(response.header("Retry-After")))
    return Permanent(text)


class Twilio:
    """Twilio's Messages resource: POST /2010-04-01/Accounts/{sid}/Messages.json."""

    name = "Twilio"

    def __init__(self, account_sid: str, auth_token: str, sender: str, api_url: str) -> None:
        self.account_sid = account_sid
        self.sender = sender
        self.url = f"{api_url.rstrip('/')}/2010-04-01/Accounts/{quote(account_sid)}/Messages.json"
        credentials = f"{account_sid}:{auth_token}".encode()
        self.authorization = "Basic " + base64.b64encode(credentials).decode()

    def send_sms(self, to: str, text: str, reference: str) -> str:
        body = urlencode({"To": to, "From": self.sender, "Body": text}).encode()
        headers = {"Authorization": self.authorization, "Content-Type": FORM}
        try:
            response = post(self.url, body, {**headers, "Accept": "application/json"})
        except (NotDelivered, NoAnswer) as exc:
            raise _transport(self.name, exc) from exc
        data = response.json() or {}
        if response.status in (200, 201) and data.get("sid"):
            return str(data["sid"])
        detail = ""
        if isinstance(data, dict) and data.get("code"):
            detail = f"error {data.get('code')} {data.get('message', '')}".strip()
        raise _http_failure(self.name, response, detail)


# Vonage SMS API statuses worth another try: throttled, internal error, communication failed.
VONAGE_RETRYABLE = {"1", "5", "13"}


class Vonage:
    """Vonage's SMS API: POST /sms/json with api_key and api_secret."""

    name = "Vonage"

    def __init__(self, api_key: str, api_secret: str, sender: str, api_url: str) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.sender = sender.lstrip("+") if sender.lstrip("+").isdigit() else sender
        self.url = f"{api_url.rstrip('/')}/sms/json"

    def send_sms(self, to: str, text: str, reference: str) -> str:
        fields = {
            "api_key": self.api_key,
            "api_secret": self.api_secret,
            "from": self.sender,
            "to": to.lstrip("+"),
            "text": text,
            "client-ref": reference[:40],
        }
        if not is_gsm(text):
            fields["type"] = "unicode"
        try:
            response = post(self.url, urlencode(fields).encode(), {"Content-Type": FORM})
        except (NotDelivered, NoAnswer) as exc:
            raise _transport(self.name, exc) from exc
        data = response.json()
        if response.status != 200 or not isinstance(data, dict):
            raise _http_failure(self.name, response, "")
        messages = data.get("messages") or [{}]
        failed = [m for m in messages if str(m.get("status")) != "0"]
        if not failed:
            return str(messages[0].get("message-id") or "")
        status = str(failed[0].get("status"))
        error = f"Vonage status {status}: {failed[0].get('error-text', 'refused')}"
        if len(failed) < len(messages):  # part of a long message went out: do not resend
            raise Permanent(error + " (some parts were sent)")
        raise (Retryable if status in VONAGE_RETRYABLE else Permanent)(error)


def provider_from(settings: Settings) -> SmsProvider | None:
    """The provider SMS_PROVIDER names, or None."""
    if settings.sms_provider == "twilio":
        return Twilio(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            settings.twilio_from,
            settings.twilio_api_url,
        )
    if settings.sms_provider == "vonage":
        return Vonage(
            settings.vonage_api_key,
            settings.vonage_api_secret,
            settings.vonage_from,
            settings.vonage_api_url,
        )
    return None


class SmsSender:
    """Sends one SMS notice through the configured provider."""

    def __init__(self, provider: SmsProvider | None) -> None:
        self.provider = provider

    def send(self, notice: Notice) -> None:
        """Text the notice's headline, its news and the status page link (two segments), or
        the text it carries (`sms_text`: an escalation's page)."""
        if self.provider is None:
            raise Permanent("SMS_PROVIDER is not set")
        if notice.outcome_unknown:
            raise Permanent(
                "the bot stopped while sending this SMS, so it may have been sent; it is not "
                "sent again: check the provider's log"
            )
        text = str(notice.payload.get("sms_text") or "") or sms_text(
            facts(notice.payload, quadrant=notice.quadrant)
        )
        message_id = self.provider.send_sms(notice.recipient, text, notice.key)
        log.info("SMS notice %s sent by %s as %s", notice.id, self.provider.name, message_id)
