"""Names of incident channels: `<prefix>-<number>-<slug of title>`, valid for Slack."""

from __future__ import annotations

import re
import secrets
import unicodedata

NAME_MAX = 80
_SHORTCODE = re.compile(r":[a-z0-9_+'-]+:", re.IGNORECASE)
_NOT_ALLOWED = re.compile(r"[^a-z0-9]+")


def slugify(title: str) -> str:
    """Lowercase ASCII words joined by hyphens; emoji, accents and punctuation dropped."""
    text = _SHORTCODE.sub(" ", title)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.encode("ascii", "ignore").decode("ascii").lower()
    return _NOT_ALLOWED.sub("-", text).strip("-")


def channel_name(prefix: str, number: int, title: str, attempt: int = 0) -> str:
    """The channel name to try on `attempt` (0 first; later ones add a distinguishing suffix)."""
    base = f"{prefix}-{number}"
    if attempt == 0:
        suffix = ""
    elif attempt < 10:
        suffix = f"-{attempt + 1}"
    else:
        suffix = "-" + secrets.token_hex(3)
    room = NAME_MAX - len(base) - len(suffix) - 1
    slug = slugify(title)[: max(room, 0)].rstrip("-")
    name = f"{base}-{slug}{suffix}" if slug else f"{base}{suffix}"
    return name[:NAME_MAX]


_VALID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")


def is_valid(name: str) -> bool:
    """True when Slack accepts `name` as a channel name."""
    return bool(_VALID.match(name))
