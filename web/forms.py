"""URL-encoded forms (`application/x-www-form-urlencoded`), decoded as `urllib.parse` does,
faster.

Slack sends slash commands and every interaction as a form. An interaction's one field,
`payload`, is a whole JSON document (a submitted view is several kilobytes) in which every
brace, quote, colon and comma is a `%XX` escape: a declare form has about 1,200 of them.
`urllib.parse.unquote` decodes those one by one in Python; here the escapes are turned into
`\\xXX` and decoded by the `unicode_escape` codec, in C, about ten times faster. Anything that
codec would read differently (a `%` not followed by two hex digits) is left to `unquote`.

`parse_form(text, max_fields)` returns what `parse_qsl(text, keep_blank_values=True,
max_num_fields=max_fields)` returns, for every input (tests/web/test_forms.py compares them).
"""

from __future__ import annotations

from urllib.parse import unquote


class TooManyFields(ValueError):
    """The form has more fields than allowed (as `parse_qsl` raises it: a ValueError)."""


def unquote_plus(text: str) -> str:
    """`urllib.parse.unquote_plus(text)` (UTF-8, undecodable bytes replaced)."""
    text = text.replace("+", " ")
    if "%" not in text:
        return text
    escaped = text.encode("utf-8").replace(b"\\", b"\\\\").replace(b"%", b"\\x")
    try:
        # Bytes that are not escapes come back as the same bytes (the codec reads them as
        # Latin-1), so the UTF-8 of the result is decoded once, as `unquote` decodes it.
        raw = escaped.decode("unicode_escape").encode("latin-1")
    except UnicodeDecodeError:  # a "%" without two hex digits after it: Python's own way
        return unquote(text)
    return raw.decode("utf-8", "replace")


def parse_form(text: str, max_fields: int | None = None) -> list[tuple[str, str]]:
    """The (name, value) pairs of a form, blank values kept, in order; TooManyFields when
    it has more than `max_fields` (counted as `parse_qsl` counts them: `&`s plus one)."""
    if max_fields is not None and text and text.count("&") + 1 > max_fields:
        raise TooManyFields("Max number of fields exceeded")
    pairs: list[tuple[str, str]] = []
    for field in text.split("&"):
        if not field:
            continue
        name, _, value = field.partition("=")
        pairs.append((unquote_plus(name), unquote_plus(value)))
    return pairs
