"""Parsing `/incident` text and suggesting sub-commands."""

from __future__ import annotations

from bot.core import commands


def test_split() -> None:
    assert commands.split("") == ("help", "")
    assert commands.split("   ") == ("help", "")
    assert commands.split("HELP") == ("help", "")
    assert commands.split("declare  Database is down ") == ("declare", "Database is down")


def test_suggest() -> None:
    assert commands.suggest("hlep") == "help"
    assert commands.suggest("he") == "help"
    assert commands.suggest("zzzzzz") is None


def test_catalogue_names_are_unique_and_documented() -> None:
    names = [sub.name for sub in commands.catalogue()]
    assert len(names) == len(set(names))
    for sub in commands.catalogue():
        assert sub.usage.startswith(f"/incident {sub.name}")
        assert sub.summary.endswith(".")
