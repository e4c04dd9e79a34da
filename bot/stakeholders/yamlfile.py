"""Reading a small YAML configuration file with the line number of every problem.

The file is composed into nodes (not constructed into Python values), so each value keeps
its line and its text exactly as written: an unquoted `+15551230000` stays that string
rather than becoming a number.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.core.errors import ConfigError

T = TypeVar("T")


class Problem(Exception):
    """A problem at one line of the file (1-based)."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


def line_of(node: Node) -> int:
    """The 1-based line a node starts on."""
    return int(node.start_mark.line) + 1


def read_root(path: str | Path, setting: str) -> Node | None:
    """The file's top node (None for an empty file); ConfigError names the setting and line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{setting}: cannot read {path}: {exc}") from exc
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" line {mark.line + 1}" if mark is not None else ""
        reason = exc.problem or exc.context or "not valid YAML"
        raise ConfigError(f"{setting} {path}{where}: {reason} (not valid YAML)") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{setting} {path}: not valid YAML: {exc}") from exc


def fail(setting: str, path: str | Path, problem: Problem) -> ConfigError:
    """The ConfigError that stops start-up for `problem`."""
    return ConfigError(f"{setting} {path} line {problem.line}: {problem.reason}")


def mapping(node: Node, what: str, allowed: Iterable[str]) -> dict[str, Node]:
    """A mapping's values by key; unknown and repeated keys are problems."""
    if not isinstance(node, MappingNode):
        raise Problem(line_of(node), f"{what} must be a mapping of keys to values")
    known = tuple(allowed)
    values: dict[str, Node] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, ScalarNode):
            raise Problem(line_of(key_node), f"a key of {what} must be a plain word")
        key = str(key_node.value)
        if key not in known:
            raise Problem(
                line_of(key_node),
                f"unknown key `{key}` in {what}; the keys are: {', '.join(known)}",
            )
        if key in values:
            raise Problem(line_of(key_node), f"`{key}` is given twice in {what}")
        values[key] = value_node
    return values


def is_null(node: Node) -> bool:
    """True for `~`, `null` or nothing at all."""
    return isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def scalar(node: Node, what: str) -> str:
    """A single value's text as written, stripped; an empty value is a problem."""
    if not isinstance(node, ScalarNode) or is_null(node):
        raise Problem(line_of(node), f"{what} must be a single value")
    text = str(node.value).strip()
    if not text:
        raise Problem(line_of(node), f"{what} is empty")
    return text


def sequence(node: Node, what: str, *, allow_empty: bool = True) -> list[Node]:
    """A list's items (a single value counts as a list of one)."""
    if isinstance(node, ScalarNode) and not is_null(node):
        return [node]
    if not isinstance(node, SequenceNode):
        raise Problem(line_of(node), f"{what} must be a list")
    if not node.value and not allow_empty:
        raise Problem(line_of(node), f"{what} is empty; list at least one")
    return list(node.value)


def words(node: Node, what: str, parse: Callable[[str], T]) -> list[tuple[T, int]]:
    """Each item of a list of single values parsed with `parse` (ValueError: a problem)."""
    parsed: list[tuple[T, int]] = []
    for item in sequence(node, what, allow_empty=False):
        text = scalar(item, f"an item of {what}")
        try:
            parsed.append((parse(text), line_of(item)))
        except ValueError as exc:
            raise Problem(line_of(item), str(exc)) from None
    return parsed
