"""Checking a webhook's credentials: bearer tokens, basic auth and HMAC-SHA256 signatures.

Every comparison is constant-time (`hmac.compare_digest`), and every check is on bytes as
they arrived: a signature covers the raw body, never a re-encoded one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Iterable

GRAFANA_SIGNATURE_HEADER = "X-Grafana-Alerting-Signature"
TIMESTAMP_TOLERANCE_SECONDS = 300


def _same(given: str | bytes, expected: str | bytes) -> bool:
    given_bytes = given.encode() if isinstance(given, str) else given
    expected_bytes = expected.encode() if isinstance(expected, str) else expected
    return hmac.compare_digest(given_bytes, expected_bytes)


def bearer_ok(authorization: str | None, token: str) -> bool:
    """True when `Authorization: Bearer <token>` carries `token` (never for an empty token)."""
    if not token or not authorization:
        return False
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return _same(value.strip(), token)


def basic_ok(authorization: str | None, username: str, password: str) -> bool:
    """True when `Authorization: Basic ...` carries this username and password."""
    if not username or not password or not authorization:
        return False
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    given_user, sep, given_password = decoded.partition(":")
    # Both compared, always: which one was wrong takes the same time.
    user_ok = _same(given_user, username)
    password_ok = _same(given_password, password)
    return bool(sep) and user_ok and password_ok


def hmac_sha256_hex(secret: str, *parts: bytes) -> str:
    """Hex HMAC-SHA256 of the parts, in order."""
    digest = hmac.new(secret.encode(), digestmod=hashlib.sha256)
    for part in parts:
        digest.update(part)
    return digest.hexdigest()


def secrets_of(setting: str) -> list[str]:
    """The secrets of a setting that may hold several, comma-separated (for rotation)."""
    return [part.strip() for part in setting.split(",") if part.strip()]


def pagerduty_ok(signature_header: str | None, body: bytes, secrets: Iterable[str]) -> bool:
    """PagerDuty v3: `X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...]` signs the raw body.

    Any `v1` signature matching any of our secrets passes (both sides rotate secrets).
    """
    if not signature_header:
        return False
    given = [
        part.strip()[3:].lower()
        for part in signature_header.split(",")
        if part.strip().startswith("v1=")
    ]
    if not given:
        return False
    matched = False
    for secret in secrets:
        expected = hmac_sha256_hex(secret, body)
        for signature in given:
            matched |= _same(signature, expected)  # no early exit: constant work per request
    return matched


def grafana_ok(
    signature: str | None,
    body: bytes,
    secret: str,
    *,
    timestamp: str | None = None,
    timestamp_required: bool = False,
    now: float | None = None,
) -> bool:
    """Grafana's HMAC: hex HMAC-SHA256 of the body, or of `<timestamp>:<body>` with a timestamp.

    With `timestamp_required` (a timestamp header is configured) the timestamp must be there
    and within five minutes of now, so a captured delivery cannot be replayed later.
    """
    if not secret or not signature:
        return False
    if timestamp_required:
        if not timestamp or not timestamp.strip().isdigit():
            return False
        current = time.time() if now is None else now
        if abs(current - int(timestamp.strip())) > TIMESTAMP_TOLERANCE_SECONDS:
            return False
        expected = hmac_sha256_hex(secret, timestamp.strip().encode(), b":", body)
    else:
        expected = hmac_sha256_hex(secret, body)
    return _same(signature.strip().lower(), expected)
