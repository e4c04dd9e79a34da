"""Reading a YAML file while remembering the line of every value, for errors people can act on.

`load` returns the data as plain Python values and a `Lines` that maps each value's path
(the keys and list indexes leading to it) to the line it starts on, so a checker can say
"line 12: rules[2].match.labels.env: ..." instead of "somewhere in the file".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]


class FileError(ValueError):
    """A problem in a configuration file, with its line when known."""

    def __init__(self, file: str, line: int | None, message: str) -> None:
        where = f"{file} line {line}" if line else file
        super().__init__(f"{where}: {message}")
        self.file = file
        self.line = line
        self.reason = message


def dotted(path: Path) -> str:
    """rules[2].match.labels.env"""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "the file"


@dataclass
class Lines:
    """Where each value of a loaded file starts."""

    file: str
    lines: dict[Path, int] = field(default_factory=dict)

    def line(self, path: Path) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]

    def error(self, path: Path, message: str) -> FileError:
        """An error at `path`, naming it and its line."""
        return FileError(self.file, self.line(path), f"{dotted(path)}: {message}")


def load(text: str, file: str) -> tuple[Any, Lines]:
    """Parse YAML (safe types only) and record the line of every value; FileError on bad YAML."""
    lines = Lines(file)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, lines
        data = loader.construct_document(node)
        _walk(loader, node, (), lines, file)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise FileError(file, line, f"not valid YAML: {reason}") from exc
    except yaml.YAMLError as exc:
        raise FileError(file, None, f"not valid YAML: {exc}") from exc
    finally:
        loader.dispose()
    return data, lines


def _walk(loader: yaml.SafeLoader, node: yaml.Node, path: Path, lines: Lines, file: str) -> None:
    lines.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)):
                raise FileError(file, key_node.start_mark.line + 1, "keys must be plain text")
            name = str(key)
            if name in seen:
                raise FileError(
                    file, key_node.start_mark.line + 1, f"{dotted((*path, name))}: duplicate key"
                )
            seen.add(name)
            lines.lines[(*path, name)] = key_node.start_mark.line + 1
            _walk(loader, value_node, (*path, name), lines, file)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(loader, item, (*path, index), lines, file)
