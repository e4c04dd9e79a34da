"""Public status updates posted to Mastodon: POST /api/v1/statuses with an Idempotency-Key.

The key is the notice's own, so a retry after a lost answer gives back the status already
posted instead of a second one (Mastodon keeps keys for an hour).
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from bot.core.sending import Permanent, Retryable, retry_after_seconds
from bot.outbound.http import NoAnswer, NotDelivered, Response, post
from bot.stakeholders.notice import Notice
from bot.stakeholders.wording import facts, mastodon_text


def _reset_in(response: Response) -> float | None:
    """Seconds until X-RateLimit-Reset (an ISO 8601 time), or Retry-After."""
    reset = response.header("X-RateLimit-Reset")
    if reset:
        try:
            at = datetime.fromisoformat(reset.replace("Z", "+00:00"))
            return max(0.0, (at - datetime.now(UTC)).total_seconds())
        except ValueError:
            pass
    return retry_after_seconds(response.header("Retry-After"))


class MastodonSender:
    """Posts one approved status."""

    def __init__(self, api_url: str, access_token: str) -> None:
        self.url = f"{api_url.rstrip('/')}/api/v1/statuses"
        self.token = access_token

    def text_of(self, notice: Notice) -> str:
        """The approved text, or the default wording."""
        approved = notice.payload.get("post_text")
        return str(approved) if approved else mastodon_text(facts(notice.payload))

    def send(self, notice: Notice) -> str | None:
        """Post the status (its URL back); raise Retryable or Permanent when Mastodon did not
        take it."""
        if not self.token:
            raise Permanent("MASTODON_API_URL and MASTODON_ACCESS_TOKEN are not set")
        body = urlencode({"status": self.text_of(notice), "visibility": "public"}).encode()
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Idempotency-Key": notice.key,
        }
        try:
            response = post(self.url, body, headers)
        except NotDelivered as exc:
            raise Retryable(f"Mastodon unreachable: {exc}") from exc
        except NoAnswer as exc:  # the Idempotency-Key makes a retry safe
            raise Retryable(f"Mastodon did not answer: {exc}", maybe_sent=True) from exc
        data = response.json()
        if response.status == 200:
            url = data.get("url") or data.get("uri") if isinstance(data, dict) else None
            return str(url) if url else None
        error = data.get("error") if isinstance(data, dict) else None
        text = f"Mastodon answered HTTP {response.status}" + (f": {error}" if error else "")
        if response.status == 429 or response.status >= 500:
            raise Retryable(text, retry_after=_reset_in(response))
        raise Permanent(text)
