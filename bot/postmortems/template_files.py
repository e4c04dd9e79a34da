"""Which files a post-mortem template may read: itself, the files of its own folder named in
POSTMORTEM_TEMPLATE_INCLUDES, and the bot's built-in templates (to extend them).

Whoever can edit the configuration chooses the template, but a template must not read other
files of the server (`{% include "../../etc/passwd" %}`, `{% import "/run/secrets/x" %}`).
The loader serves only the allowed names, each resolved (symbolic links too) inside the
folder, and every `include`, `import`, `from` and `extends` is checked when the template is
loaded: a name computed at run time, or any name not allowed, stops start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import jinja2
from jinja2 import meta

INCLUDES_KEY = "POSTMORTEM_TEMPLATE_INCLUDES"


def parse_includes(value: str) -> tuple[str, ...]:
    """The file names of POSTMORTEM_TEMPLATE_INCLUDES (comma-separated); ValueError if one is
    not a plain file name."""
    names = tuple(dict.fromkeys(part.strip() for part in (value or "").split(",") if part.strip()))
    for name in names:
        if "/" in name or "\\" in name or name in (".", "..") or name.startswith("~"):
            raise ValueError(
                f"{name!r} is not a file name; {INCLUDES_KEY} names files in the template's "
                "own folder, without a path"
            )
    return names


def _inside(directory: Path, name: str) -> Path:
    """The file `name` of `directory`, resolved; ValueError when it is elsewhere or missing."""
    folder = directory.resolve()
    path = (folder / name).resolve()
    if path.parent != folder:
        raise ValueError(f"{name} leads outside {folder}")
    if not path.is_file():
        raise ValueError(f"no file {name} in {folder}")
    return path


def builtin_names(builtin: Path) -> frozenset[str]:
    """The bot's own templates, which any template may extend or include by name."""
    return frozenset(p.name for p in builtin.glob("*.j2"))


class FolderLoader(jinja2.BaseLoader):
    """Loads only `names` (the template and its allowed includes) from one folder, and the
    built-in templates by name from `builtin`."""

    def __init__(self, directory: Path, names: Iterable[str], builtin: Path) -> None:
        self.directory = directory
        self.names = frozenset(names)
        self.builtin = builtin

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        if template in self.names:
            directory = self.directory
        elif template in builtin_names(self.builtin):
            directory = self.builtin
        else:
            raise jinja2.TemplateNotFound(template)
        try:
            path = _inside(directory, template)
        except ValueError:
            raise jinja2.TemplateNotFound(template) from None
        mtime = path.stat().st_mtime

        def uptodate() -> bool:
            try:
                return path.stat().st_mtime == mtime
            except OSError:
                return False

        return path.read_text(encoding="utf-8"), str(path), uptodate


def check_references(
    env: jinja2.Environment, name: str, allowed: Iterable[str], builtin: Path
) -> None:
    """Every template `name` reads (and what those read) is allowed; ValueError if not."""
    permitted = frozenset(allowed) | builtin_names(builtin)
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        assert env.loader is not None
        source, _, _ = env.loader.get_source(env, current)
        for ref in meta.find_referenced_templates(env.parse(source, current)):
            if ref is None:
                raise ValueError(
                    f"{current} includes or imports a template named at run time; name the file "
                    f"in quotes and list it in {INCLUDES_KEY}"
                )
            if ref not in permitted:
                raise ValueError(
                    f"{current} includes or imports {ref!r}, which is not allowed: only files in "
                    f"the template's own folder that are named in {INCLUDES_KEY} may be included"
                )
            todo.append(ref)


def loader_for(file: Path, includes: Iterable[str], builtin: Path) -> FolderLoader:
    """The loader of the template `file` and its allowed includes (each must exist beside it)."""
    names = tuple(includes)
    for name in names:
        _inside(file.parent, name)
    return FolderLoader(file.parent, (file.name, *names), builtin)
