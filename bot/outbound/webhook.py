"""Incident events POSTed as JSON to the URLs of WEBHOOKS_FILE, signed with HMAC-SHA256.

Headers: `X-Incident-Timestamp` (Unix seconds, when this attempt was made) and
`X-Incident-Signature: v1=<hex>`, the HMAC-SHA256 of `<timestamp>.<body>` under the
webhook's secret; `X-Incident-Delivery` is the same on every retry of one delivery, so a
receiver can drop duplicates. Redirects are not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

from bot.core.sending import Permanent, Retryable, retry_after_seconds
from bot.outbound.http import NoAnswer, NotDelivered, post
from bot.stakeholders.notice import Notice
from bot.stakeholders.webhooks import Webhook

RETRYABLE_STATUS = {408, 425, 429}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + digest.hexdigest()


def body_of(notice: Notice) -> bytes:
    """The JSON a receiver gets for one notice."""
    p = notice.payload
    incident: dict[str, Any] = {
        "number": p.get("number"),
        "title": p.get("title"),
        "severity": p.get("severity"),
        "status": p.get("status"),
        "impact": p.get("impact"),
        "summary": p.get("summary"),
        "resolution": p.get("resolution") or None,
        "incident_manager": p.get("manager"),
        "declared_at": p.get("declared_at"),
        "resolved_at": p.get("resolved_at"),
        "next_update_at": p.get("next_update_at"),
        "status_page_url": p.get("status_page_url") or None,
    }
    document: dict[str, Any] = {
        "id": notice.key,
        "type": f"incident.{notice.trigger}",
        "occurred_at": p.get("at"),
        "incident": incident,
    }
    if notice.trigger == "update":
        document["update"] = {"message": p.get("message"), "author": p.get("actor")}
    if notice.trigger == "severity_changed":
        document["severity_change"] = {"from": p.get("old_severity"), "to": p.get("severity")}
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


class WebhookSender:
    """POSTs one notice to its webhook."""

    def __init__(
        self, webhooks: tuple[Webhook, ...], clock: Callable[[], float] = time.time
    ) -> None:
        self.by_url = {hook.url: hook for hook in webhooks}
        self.clock = clock

    def send(self, notice: Notice) -> None:
        """Deliver; Retryable on 408/425/429/5xx and transport failures, Permanent otherwise."""
        hook = self.by_url.get(notice.recipient)
        if hook is None:
            raise Permanent("this URL is no longer in WEBHOOKS_FILE")
        body = body_of(notice)
        timestamp = str(int(self.clock()))
        headers = {
            "Content-Type": "application/json",
            "X-Incident-Timestamp": timestamp,
            "X-Incident-Signature": sign(hook.secret, timestamp, body),
            "X-Incident-Delivery": notice.key,
            "X-Incident-Event": f"incident.{notice.trigger}",
        }
        try:
            response = post(hook.url, body, headers)
        except NotDelivered as exc:
            raise Retryable(f"webhook unreachable: {exc}") from exc
        except NoAnswer as exc:  # the receiver drops a repeated X-Incident-Delivery
            raise Retryable(f"the webhook did not answer: {exc}", maybe_sent=True) from exc
        if 200 <= response.status < 300:
            return
        text = f"the webhook answered HTTP {response.status}"
        if response.status in RETRYABLE_STATUS or response.status >= 500:
            raise Retryable(text, retry_after=retry_after_seconds(response.header("Retry-After")))
        if 300 <= response.status < 400:
            text += " (a redirect; redirects are not followed: update the URL)"
        raise Permanent(text)
