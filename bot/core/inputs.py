"""Rules for everything people type, the same whether it came from a form, a command or a
forged request: the domain applies them before it stores anything.

- Text is kept as people meant it (`a < b & c`), never as Slack markup; every builder escapes
  it on output (`bot.core.slack_text.escape`). Command text, which Slack sends escaped, is
  made readable (`slack_text.render`) by the handler before it reaches the domain.
- Control characters are stripped (a NUL byte cannot be stored on PostgreSQL, and lone
  surrogates cannot be encoded at all); line breaks and tabs stay in multi-line text.
- Bidirectional embedding, override and isolate characters (U+202A-U+202E, U+2066-U+2069) make
  text read differently from what it says: a title with one is refused, other text loses them.
- Text with nothing visible (only spaces, zero-width or other invisible characters) counts
  as empty.
- Lengths are counted after cleaning; dates must lie within ten years.

Every refusal is an InvalidInput naming the field (the form's block id) and what to change.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from bot.core.errors import InvalidInput

_NEWLINES = re.compile(r"\r\n?|[\u2028\u2029]")
# C0 and C1 controls except tab and line feed, DEL, and lone surrogates.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")  # fillers that render as nothing
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Mn", "Me", "Zs", "Zl", "Zp"})
_USER_ID = re.compile(r"^[UW][A-Z0-9]{1,31}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
YEARS_AHEAD_MAX = 10


def strip_controls(text: str | None, *, multiline: bool = True) -> str:
    """`text` without control characters; single-line text also loses line breaks and tabs."""
    out = _CONTROLS.sub("", _NEWLINES.sub("\n", text or ""))
    return " ".join(out.split()) if not multiline else out


def visible(text: str) -> bool:
    """True when some character of `text` shows on screen."""
    return any(
        unicodedata.category(ch) not in _INVISIBLE_CATEGORIES and ch not in _BLANK_LETTERS
        for ch in text
    )


def _bidi_error(name: str, field: str, found: str) -> InvalidInput:
    code = f"U+{ord(found):04X}"
    return InvalidInput(
        f"The {name} contains an invisible direction-changing character ({code}) that makes it "
        "read differently from what it says; remove it.",
        fields={field: f"Remove the direction-changing character {code}."},
    )


def clean_text(
    value: str | None,
    *,
    field: str,
    name: str,
    max_chars: int,
    required: bool = False,
    empty: str = "",
    multiline: bool = True,
) -> str:
    """Free text (a summary, an update, a note): cleaned, and checked for emptiness and length.

    `empty` is the message for a required field left empty (or with nothing visible).
    """
    text = _BIDI.sub("", strip_controls(value, multiline=multiline)).strip()
    if not visible(text):
        if required:
            message = empty or f"The {name} is empty."
            raise InvalidInput(message, fields={field: message})
        return ""
    if len(text) > max_chars:
        raise InvalidInput(
            f"Keep the {name} to {max_chars} characters (it has {len(text)}).",
            fields={field: f"At most {max_chars} characters (it has {len(text)})."},
        )
    return text


def clean_title(
    value: str | None, *, field: str, name: str, max_chars: int, empty: str = ""
) -> str:
    """A one-line title: as clean_text, but a direction-changing character is refused."""
    raw = value or ""
    found = _BIDI.search(raw)
    if found is not None:
        raise _bidi_error(name, field, found.group(0))
    text = strip_controls(raw, multiline=False)
    if not text:
        message = empty or f"The {name} is empty."
        raise InvalidInput(message, fields={field: message})
    if not visible(text):
        message = f"The {name} has no visible characters; write it in words."
        raise InvalidInput(message, fields={field: message})
    if len(text) > max_chars:
        raise InvalidInput(
            f"Keep the {name} to {max_chars} characters (it has {len(text)}).",
            fields={field: f"At most {max_chars} characters (it has {len(text)})."},
        )
    return text


def check_user_id(value: str | None, *, field: str, name: str) -> str:
    """A Slack user id (`U…` or `W…`), or InvalidInput."""
    user = (value or "").strip()
    if not _USER_ID.match(user):
        message = f"The {name} must be a person in this workspace; choose someone."
        raise InvalidInput(message, fields={field: message})
    return user


def latest_date(today: date) -> date:
    """The last day a date may be set to: ten years from `today`."""
    try:
        return today.replace(year=today.year + YEARS_AHEAD_MAX)
    except ValueError:  # 29 February
        return today.replace(year=today.year + YEARS_AHEAD_MAX, day=28)


def check_date_window(value: date | None, *, today: date, field: str, name: str) -> None:
    """InvalidInput when `value` lies more than ten years after `today`."""
    if value is None:
        return
    latest = latest_date(today)
    if value > latest:
        raise InvalidInput(
            f"The {name} {value.isoformat()} is more than {YEARS_AHEAD_MAX} years away; "
            f"pick a day up to {latest.isoformat()}.",
            fields={
                field: f"More than {YEARS_AHEAD_MAX} years away; pick a day up to "
                f"{latest.isoformat()}."
            },
        )


def parse_date(value: str | None, *, field: str, name: str) -> date | None:
    """A `YYYY-MM-DD` date (a date picker's value), None when empty, else InvalidInput."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        if not _ISO_DATE.match(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        message = f"The {name} is not a date; pick one, or write it as YYYY-MM-DD."
        raise InvalidInput(message, fields={field: message}) from None
