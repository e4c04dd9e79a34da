"""What an incident's fields must be: the declare form checked and cleaned (bot.core.inputs)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core import inputs
from bot.core.errors import InvalidInput
from bot.core.vocabulary import Severity, parse_severity

TITLE_MAX = 150
MESSAGE_MAX = 3000  # summary, impact, an update, the resolution
TITLE_EMPTY = "Give the incident a title."


@dataclass(frozen=True)
class Declaration:
    """The declare form's fields, checked and cleaned."""

    title: str
    severity: Severity
    summary: str
    impact: str


def validate_declaration(
    *, title: str, severity: str | None, summary: str = "", impact: str = ""
) -> Declaration:
    """Check the declare form's fields; InvalidInput names each bad field (and changes nothing)."""
    errors: dict[str, str] = {}
    clean = {"title": "", "summary": "", "impact": ""}
    try:
        clean["title"] = inputs.clean_title(
            title,
            field="title",
            name="title",
            max_chars=TITLE_MAX,
            empty="Give the incident a title.",
        )
    except InvalidInput as exc:
        errors.update(exc.fields)
    for name, value in (("summary", summary), ("impact", impact)):
        try:
            clean[name] = inputs.clean_text(value, field=name, name=name, max_chars=MESSAGE_MAX)
        except InvalidInput as exc:
            errors.update(exc.fields)
    parsed: Severity | None = None
    if not severity:
        errors["severity"] = "Choose a severity."
    else:
        try:
            parsed = parse_severity(severity)
        except InvalidInput as exc:
            errors["severity"] = str(exc)
    if errors or parsed is None:
        raise InvalidInput("; ".join(errors.values()), fields=errors)
    return Declaration(clean["title"], parsed, clean["summary"], clean["impact"])


def clean_update(message: str | None) -> str:
    """An update's text: required, at most MESSAGE_MAX characters."""
    return inputs.clean_text(
        message,
        field="message",
        name="update",
        max_chars=MESSAGE_MAX,
        required=True,
        empty="Write what is new in the update.",
    )


def clean_resolution(resolution: str | None) -> str:
    """How it was resolved: at most MESSAGE_MAX characters (empty from `/incident status`)."""
    return inputs.clean_text(
        resolution, field="resolution", name="resolution", max_chars=MESSAGE_MAX
    )


def clean_user(user_id: str | None, *, field: str, name: str) -> str:
    """A person's Slack user id (from a user picker or a mention)."""
    return inputs.check_user_id(user_id, field=field, name=name)
