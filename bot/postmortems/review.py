"""What a person must look at before the customer-facing draft is published.

The scrub (bot.postmortems.docs.scrub) removes people, Slack ids, channels and Slack links,
which it can recognise for certain. E-mail addresses, internal host names (`db-1.internal`,
`*.local`, `*.corp`, a single-label host in a URL such as `http://grafana/`) and IP
addresses (private ranges called out) may or may not belong in a public report, so they are
kept and listed at the top of the draft under "Review before publishing", never dropped.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

EMAIL = "e-mail address"
INTERNAL_HOST = "internal host name"
BARE_HOST = "host name without a domain"
PRIVATE_IP = "IP address in a private range"
PUBLIC_IP = "IP address"

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_URL_HOST = re.compile(
    r"\b[a-z][a-z0-9+.-]*://(?:[^\s/@]*@)?(\[[0-9A-Fa-f:.]+\]|[^\s/:?#)>\]\"'`]+)", re.I
)
_INTERNAL_HOST = re.compile(
    r"(?<![\w.-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+"
    r"(?:internal|local|localdomain|corp|lan|intranet|intra|home\.arpa)(?![\w-])",
    re.I,
)
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")


@dataclass(frozen=True)
class Finding:
    """One thing to check: what was found (as written), what it looks like, and where."""

    text: str
    kind: str
    where: str


def _ip_kind(text: str) -> str | None:
    try:
        address = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    internal = (
        address.is_private or address.is_loopback or address.is_link_local or address.is_reserved
    )
    return PRIVATE_IP if internal else PUBLIC_IP


def scan(text: str) -> list[tuple[str, str]]:
    """(found, kind) for every e-mail address, internal host and IP address in `text`."""
    emails = list(_EMAIL.finditer(text))
    found: list[tuple[str, str]] = [(m.group(0), EMAIL) for m in emails]

    def in_email(match: re.Match[str]) -> bool:
        return any(e.start() <= match.start() < e.end() for e in emails)

    for match in _URL_HOST.finditer(text):
        host = match.group(1).rstrip(".,;:!?")
        if _ip_kind(host) is None and "." not in host:
            found.append((host, BARE_HOST))
    found += [(m.group(0), INTERNAL_HOST) for m in _INTERNAL_HOST.finditer(text) if not in_email(m)]
    for pattern in (_IPV4, _IPV6):
        for match in pattern.finditer(text):
            kind = _ip_kind(match.group(0))
            if kind is not None and not in_email(match):
                found.append((match.group(0), kind))
    return found


def findings(sections: Iterable[tuple[str, str]]) -> list[Finding]:
    """Everything to review in (where, text) pairs, each thing once, in the order found."""
    seen: dict[tuple[str, str], Finding] = {}
    for where, text in sections:
        for value, kind in scan(text):
            key = (value.lower(), kind)
            if key not in seen:
                seen[key] = Finding(value, kind, where)
    return list(seen.values())
