"""Webhook credentials: bearer, basic, PagerDuty v3 and Grafana signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac

from bot.alerts import auth
from tests.alert_fixtures import raw

TOKEN = "t0ken-t0ken-t0ken-t0ken"


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_bearer() -> None:
    assert auth.bearer_ok(f"Bearer {TOKEN}", TOKEN)
    assert auth.bearer_ok(f"bearer  {TOKEN} ", TOKEN)
    assert not auth.bearer_ok(f"Bearer {TOKEN}x", TOKEN)
    assert not auth.bearer_ok(f"Basic {TOKEN}", TOKEN)
    assert not auth.bearer_ok(None, TOKEN)
    assert not auth.bearer_ok("Bearer ", "")  # no token configured: nobody gets in


def test_basic() -> None:
    good = "Basic " + base64.b64encode(b"opsgenie:pa55word-pa55word").decode()
    assert auth.basic_ok(good, "opsgenie", "pa55word-pa55word")
    assert not auth.basic_ok(good, "opsgenie", "other-password-xx")
    assert not auth.basic_ok(good, "someone", "pa55word-pa55word")
    assert not auth.basic_ok("Basic !!!notbase64", "opsgenie", "pa55word-pa55word")
    no_colon = "Basic " + base64.b64encode(b"opsgeniepa55word").decode()
    assert not auth.basic_ok(no_colon, "opsgenie", "pa55word-pa55word")
    assert not auth.basic_ok(good, "", "")


def test_pagerduty_signatures_with_several_secrets() -> None:
    body = raw("pagerduty_triggered")
    old, new = "old-secret-0123456789abcdef", "new-secret-0123456789abcdef"
    # PagerDuty signs with each of its secrets while rotating; we may hold several too.
    header = f"v1={sign(old, body)},v1={sign(new, body)}"
    assert auth.pagerduty_ok(header, body, [new])
    assert auth.pagerduty_ok(header, body, [old])
    assert auth.pagerduty_ok(f"v1={sign(new, body)}", body, ["unrelated-secret-xxxxxx", new])
    assert not auth.pagerduty_ok(header, body, ["unrelated-secret-xxxxxx"])
    assert not auth.pagerduty_ok(header, body + b" ", [new])  # the body was altered
    assert not auth.pagerduty_ok(f"v2={sign(new, body)}", body, [new])  # unknown version
    assert not auth.pagerduty_ok("", body, [new])
    assert not auth.pagerduty_ok(None, body, [new])
    assert auth.secrets_of(" a , ,b ") == ["a", "b"]


def test_grafana_signature_with_and_without_timestamp() -> None:
    body = raw("grafana_firing")
    secret = "grafana-secret-0123456789"
    assert auth.grafana_ok(sign(secret, body), body, secret)
    assert not auth.grafana_ok(sign("another-secret-xxxxxxxx", body), body, secret)
    assert not auth.grafana_ok(None, body, secret)
    timestamped = hmac.new(secret.encode(), b"1700000000:" + body, hashlib.sha256).hexdigest()
    assert auth.grafana_ok(
        timestamped, body, secret, timestamp="1700000000", timestamp_required=True, now=1700000100
    )
    # A replay ten minutes later is refused, and so is a missing or forged timestamp.
    assert not auth.grafana_ok(
        timestamped, body, secret, timestamp="1700000000", timestamp_required=True, now=1700000600
    )
    assert not auth.grafana_ok(timestamped, body, secret, timestamp_required=True, now=1700000000)
    assert not auth.grafana_ok(
        timestamped, body, secret, timestamp="1700000001", timestamp_required=True, now=1700000000
    )
