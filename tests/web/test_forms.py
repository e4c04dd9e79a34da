"""web/forms.py decodes every form as urllib.parse does: the same pairs, the same errors."""

from __future__ import annotations

import random
from urllib.parse import parse_qsl, quote_plus, unquote_plus

import pytest

from web.forms import TooManyFields, parse_form
from web.forms import unquote_plus as fast_unquote_plus

TRICKY = [
    "",
    "&",
    "&&a=1&&",
    "a",
    "a=",
    "=b",
    "a=b=c",
    "a+b=c+d",
    "%41%42%43=%7B%22x%22%3A1%7D",
    "a=%",
    "a=%4",
    "a=%zz",
    "a=%%41",
    "a=%41%",
    "a=%e9",  # Latin-1 escape: not UTF-8, replaced
    "a=%C3%A9",  # é
    "a=%C3",  # cut short
    "a=%C3é",  # cut short, then a raw character
    "a=é%A9",  # a raw character, then a lone continuation byte
    "a=%F0%9F%94%A5",  # 🔥
    "a=%ED%A0%80",  # a surrogate's UTF-8: replaced
    "a=%00b%0Ac%0D%0A",
    "a=\\",
    "a=\\x41",
    "a=\\%41",
    "a=%5C%5Cx41",
    "a=\\N{BULLET}\\u00e9\\n",
    "a=1;b=2",
    "payload=" + quote_plus('{"type":"view_submission","view":{"state":{"values":{}}}}'),
    "command=%2Fincident&text=note+the+payload+service+is+down",
]


@pytest.mark.parametrize("text", TRICKY)
def test_each_tricky_form_is_read_as_parse_qsl_reads_it(text: str) -> None:
    assert parse_form(text) == parse_qsl(text, keep_blank_values=True)


def test_random_forms_are_read_as_parse_qsl_reads_them() -> None:
    alphabet = ["%", "+", "&", "=", "\\", "x", "N", "u", "{", "}", "0", "9", "a", "F", "é", "🔥"]
    alphabet += ["%2", "%C3", "%A9", "%e9", "%5C", "%25", "%26", "%3D", "%7B", " ", "\n", "\x00"]
    rng = random.Random(1207)
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        assert parse_form(text) == parse_qsl(text, keep_blank_values=True), repr(text)
        assert fast_unquote_plus(text) == unquote_plus(text), repr(text)


def test_every_character_round_trips() -> None:
    text = "".join(chr(n) for n in range(0x800)) + "🔥\U0010fffd"
    assert parse_form("v=" + quote_plus(text)) == [("v", text)]


@pytest.mark.parametrize(("text", "limit"), [("a=1&b=2&c=3", 2), ("&&&", 3), ("a=1", 0)])
def test_too_many_fields_are_refused_where_parse_qsl_refuses_them(text: str, limit: int) -> None:
    with pytest.raises(ValueError, match="Max number of fields exceeded"):
        parse_qsl(text, keep_blank_values=True, max_num_fields=limit)
    with pytest.raises(TooManyFields):
        parse_form(text, limit)


@pytest.mark.parametrize(("text", "limit"), [("", 0), ("a=1&b=2", 2)])
def test_forms_within_the_limit_are_read(text: str, limit: int) -> None:
    assert parse_form(text, limit) == parse_qsl(text, keep_blank_values=True, max_num_fields=limit)
