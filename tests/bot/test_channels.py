"""Channel names are valid for Slack whatever the title."""

from __future__ import annotations

import pytest

from bot.incidents.channels import NAME_MAX, channel_name, is_valid, slugify


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Database is down", "inc-7-database-is-down"),
        (":fire: Checkout :fire: failing!!", "inc-7-checkout-failing"),
        ("Café crème à Zürich", "inc-7-cafe-creme-a-zurich"),
        ("🔥🔥 API 500s 🔥", "inc-7-api-500s"),
        ("!!!???...", "inc-7"),
        ("データベース障害", "inc-7"),
        ("  Spaces   and\ttabs ", "inc-7-spaces-and-tabs"),
        ("UPPER_case-Mixed", "inc-7-upper-case-mixed"),
    ],
)
def test_awkward_titles(title: str, expected: str) -> None:
    name = channel_name("inc", 7, title)
    assert name == expected
    assert is_valid(name)


def test_long_title_is_cut_to_80() -> None:
    name = channel_name("inc", 123456, "word " * 40)
    assert len(name) <= NAME_MAX
    assert is_valid(name) and not name.endswith("-")


def test_retries_give_distinct_valid_names() -> None:
    names = {channel_name("inc", 3, "x" * 200, attempt) for attempt in range(15)}
    assert len(names) == 15
    assert all(len(n) <= NAME_MAX and is_valid(n) for n in names)


def test_slugify_drops_everything_slack_rejects() -> None:
    assert slugify("a/b\\c#d@e") == "a-b-c-d-e"
