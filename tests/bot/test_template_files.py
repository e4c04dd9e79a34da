"""POSTMORTEM_TEMPLATE reads no other files than its own folder's, named in a setting.

Checked at start-up (load_settings), before any incident needs the template: an include or
import of a parent folder, an absolute path, a name computed at run time or a file not named
in POSTMORTEM_TEMPLATE_INCLUDES stops the bot with a message naming the key.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.core.errors import ConfigError
from bot.postmortems import docs
from bot.settings import load_settings


def template(folder: Path, text: str, name: str = "pm.md.j2") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def start(path: Path | str, includes: str = "") -> None:
    load_settings(
        env_file=None, postmortem_template=str(path), postmortem_template_includes=includes
    )


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("TOP-SECRET")
    return path


@pytest.mark.parametrize(
    "tag",
    [
        '{% include "../secret.txt" %}',
        '{% include "SECRET_ABS" %}',
        '{% import "../secret.txt" as s %}',
        '{% from "SECRET_ABS" import x %}',
        '{% extends "../secret.txt" %}',
        '{% if false %}{% include "../secret.txt" %}{% endif %}',  # refused without rendering
        '{% include ["nope.j2", "../secret.txt"] %}',
        "{% include incident.title %}",  # a name chosen at run time
    ],
)
def test_reading_other_files_is_refused_at_start_up(tmp_path: Path, secret: Path, tag: str) -> None:
    path = template(
        tmp_path / "templates", "# Post-mortem\n" + tag.replace("SECRET_ABS", str(secret))
    )
    with pytest.raises(ConfigError, match="POSTMORTEM_TEMPLATE") as caught:
        start(path)
    assert "TOP-SECRET" not in str(caught.value)
    assert "not allowed" in str(caught.value) or "run time" in str(caught.value)


def test_an_absolute_path_is_refused_even_when_named_in_the_setting(
    tmp_path: Path, secret: Path
) -> None:
    path = template(tmp_path / "templates", f'{{% include "{secret}" %}}')
    with pytest.raises(ConfigError, match=r"POSTMORTEM_TEMPLATE_INCLUDES.*not a file name"):
        start(path, includes=str(secret))
    with pytest.raises(ConfigError, match="not a file name"):
        start(path, includes="../secret.txt")


def test_files_of_the_same_folder_named_in_the_setting_may_be_included(tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    template(folder, "Signed, {{ owner }}", name="footer.md.j2")
    template(folder, "{% macro bold(x) %}**{{ x }}**{% endmacro %}", name="macros.md.j2")
    path = template(
        folder,
        '{% import "macros.md.j2" as m %}# {{ m.bold(incident.title) }}\n'
        '{% include "footer.md.j2" %}',
    )
    with pytest.raises(ConfigError, match=re.escape("footer.md.j2")):
        start(path, includes="macros.md.j2")  # the footer is not named
    settings = load_settings(
        env_file=None,
        postmortem_template=str(path),
        postmortem_template_includes="macros.md.j2, footer.md.j2",
    )
    assert settings.postmortem_includes == ("macros.md.j2", "footer.md.j2")
    out = docs.render(
        docs.sample_facts(), template_path=str(path), includes=("macros.md.j2", "footer.md.j2")
    )
    assert out == "# **Checkout errors**\nSigned, Alice\n"


def test_an_allowed_include_may_not_reach_further(tmp_path: Path, secret: Path) -> None:
    folder = tmp_path / "templates"
    template(folder, '{% include "../secret.txt" %}', name="footer.md.j2")
    path = template(folder, '{% include "footer.md.j2" %}')
    with pytest.raises(
        ConfigError, match=re.escape("footer.md.j2 includes or imports '../secret.txt'")
    ):
        start(path, includes="footer.md.j2")


def test_a_link_out_of_the_folder_is_refused(tmp_path: Path, secret: Path) -> None:
    folder = tmp_path / "templates"
    path = template(folder, '{% include "leak.md.j2" %}')
    (folder / "leak.md.j2").symlink_to(secret)
    with pytest.raises(ConfigError, match="leads outside"):
        start(path, includes="leak.md.j2")
    with pytest.raises(ConfigError, match=re.escape("no file missing.md.j2")):
        start(path, includes="missing.md.j2")


def test_includes_need_a_template_and_built_in_templates_stay_extendable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no POSTMORTEM_TEMPLATE"):
        load_settings(env_file=None, postmortem_template_includes="footer.md.j2")
    path = template(tmp_path, "{% extends 'postmortem.md.j2' %}")
    start(path)
    assert "# Post-mortem" in docs.render(docs.sample_facts(), template_path=str(path))
