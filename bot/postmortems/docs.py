"""Post-mortem documents: the facts they are drafted from, and Markdown rendered with Jinja2.

Nothing here touches the database or Slack (bot.postmortems gathers the facts). The internal
document's template is configurable (POSTMORTEM_TEMPLATE); the customer-facing draft always
uses the built-in template and only ever sees facts that went through `scrub`, so it carries
no people's names, user ids, channel names or Slack links.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from bot.core import slack_text
from bot.postmortems import review as review_
from bot.postmortems import template_files

TEMPLATES = Path(__file__).parent / "templates"
INTERNAL_TEMPLATE = "postmortem.md.j2"
CUSTOMER_TEMPLATE = "customer.md.j2"
PROMPT_MARK = "TO FILL IN"

PROMPTS = {
    "summary": "In two or three sentences: what happened, who noticed, how it ended.",
    "impact": "Who and what was affected, how badly and for how long (customers, requests, "
    "revenue, data).",
    "root_cause": "Why did this happen? Describe the cause, and why our safeguards did not "
    "catch it (ask 'why?' until the answer is something we can change).",
    "resolution": "What fixed it, and what was done to recover (rollback, failover, clean-up).",
}


# -- facts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """One written section: its text, or a prompt for what to write when nothing is known."""

    name: str
    text: str
    prompt: str
    written: bool = False  # a person wrote it in the edit form
    hint: str = ""  # something the bot found that may help (never used as the text)

    @property
    def known(self) -> bool:
        """True when there is text to show instead of the prompt."""
        return bool(self.text.strip())


@dataclass(frozen=True)
class Milestone:
    """A step in the incident's life: declared, acknowledged, identified, monitoring, resolved."""

    label: str
    at: datetime
    since_start: float  # seconds since it was declared


@dataclass(frozen=True)
class RoleHolder:
    """Who held a role."""

    role: str
    name: str


@dataclass(frozen=True)
class UpdateFact:
    """A status update as the document shows it."""

    at: datetime
    author: str
    text: str
    status: str = ""  # the status it moved the incident to, if it did


@dataclass(frozen=True)
class ActionFact:
    """An action item as the document shows it."""

    id: int
    text: str
    owner: str
    due_on: date | None
    state: str
    permalink: str | None = None

    @property
    def done(self) -> bool:
        """True once it is done."""
        return self.state == "done"


@dataclass(frozen=True)
class IncidentFacts:
    """The incident's own facts."""

    number: int
    title: str
    severity: str
    severity_description: str
    status: str
    declared_at: datetime
    resolved_at: datetime | None
    duration: float  # seconds from declared to resolved (or to when the draft was made)
    time_to_acknowledge: float | None
    time_to_identify: float | None
    channel_name: str | None
    declared_by: str
    private: bool = False

    @property
    def resolved(self) -> bool:
        """True once resolved."""
        return self.resolved_at is not None


@dataclass(frozen=True)
class Facts:
    """Everything a post-mortem template can use (documented in the README)."""

    incident: IncidentFacts
    summary: Section
    impact: Section
    root_cause: Section
    resolution: Section
    manager: str
    roles: list[RoleHolder]
    participants: list[str]
    status_history: list[Milestone]
    updates: list[UpdateFact]
    timeline: list[str]  # one Markdown list item per timeline entry
    timeline_markdown: str  # the timeline export, headings moved one level down
    action_items: list[ActionFact]
    owner: str
    due_on: date | None
    completed_at: datetime | None
    generated_at: datetime
    prompt_mark: str = PROMPT_MARK
    # Names and channel names that must never reach the customer-facing draft.
    private_words: list[str] = field(default_factory=list)

    def context(self) -> dict[str, Any]:
        """The template's variables."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


# -- formatting helpers (also template filters) ------------------------------------------


def utc(at: datetime | None) -> str:
    """`2025-03-14 09:30 UTC`, or a dash."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if at else "—"


def clock(at: datetime | None) -> str:
    """`09:30`, or a dash."""
    return at.astimezone(UTC).strftime("%H:%M") if at else "—"


def day(value: date | datetime | None) -> str:
    """`Friday 14 March 2025`, or a dash."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(UTC).date()
    return f"{value:%A} {value.day} {value:%B %Y}"


def duration(seconds: float | timedelta | None) -> str:
    """`2h 5m`, `3d 4h`, `45s`, or a dash."""
    if seconds is None:
        return "—"
    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def demote_headings(markdown: str) -> str:
    """Every Markdown heading one level deeper (`## x` -> `### x`)."""
    return re.sub(r"(?m)^(#{1,5}) ", r"#\1 ", markdown)


# -- the customer-facing scrub ------------------------------------------------------------

_USER_TOKEN = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")
_CHANNEL_TOKEN = re.compile(r"<#[CGD][A-Z0-9]+(?:\|[^>]*)?>")
_LINK_TOKEN = re.compile(r"<(https?://[^|>]+)(?:\|([^>]*))?>")
_SLACK_URL = re.compile(r"https?://[^\s)>]*slack\.com(?:[^\s)>]*[^\s)>.,;:!?])?", re.I)
_SLACK_ID = re.compile(r"\b[UWBCGDT][A-Z0-9]{8,}\b")
_CHANNEL_NAME = re.compile(r"(?<![\w&])#[A-Za-z][\w-]*")
_MENTION_NAME = re.compile(r"(?<![\w.])@[\w.-]+")


def _link(match: re.Match[str]) -> str:
    url, label = match.group(1), match.group(2)
    if _SLACK_URL.match(url):
        return label or ""
    return f"{label} ({url})" if label and label != url else url


def _names(out: str, words: Sequence[str]) -> str:
    """Replace people's names: whole names in any case, capitalised parts of them as written."""
    full = {w.strip() for w in words if len(w.strip()) >= 2}
    parts = {p for w in full for p in re.split(r"[\s.]+", w) if len(p) >= 3 and p[:1].isupper()}
    for word in sorted(full, key=len, reverse=True):
        pattern = re.compile(rf"(?<![\w-])@?{re.escape(word)}(?![\w-])", re.IGNORECASE)
        out = pattern.sub("our team", out)
    for part in sorted(parts - full, key=len, reverse=True):
        out = re.sub(rf"(?<![\w-])@?{re.escape(part)}(?![\w-])", "our team", out)
    return out


def scrub(text: str, *, private_words: Sequence[str] = ()) -> str:
    """Text fit for customers: no people, user ids, channel names or Slack links."""
    out = _USER_TOKEN.sub("our team", text or "")
    out = _CHANNEL_TOKEN.sub("our incident channel", out)
    out = _LINK_TOKEN.sub(_link, out)
    out = slack_text.render(out)
    out = _SLACK_URL.sub("", out)
    out = _CHANNEL_NAME.sub("our incident channel", out)
    out = _SLACK_ID.sub("", out)
    out = _names(out, private_words)
    out = _MENTION_NAME.sub("our team", out)
    out = re.sub(r"(?i)\bour team(?:,? (?:and )?our team)+\b", "our team", out)
    out = re.sub(r"\(\s*\)", "", out)
    out = re.sub(r"[ \t]+([,.;:)])", r"\1", out)
    out = re.sub(r"[ \t]{2,}", " ", out).strip().rstrip(",;:").strip()
    return re.sub(r"(^|[.!?]\s+)our team", lambda m: m.group(1) + "Our team", out)


def _scrub_section(section: Section, words: list[str]) -> Section:
    return replace(section, text=scrub(section.text, private_words=words), hint="")


@dataclass(frozen=True)
class CustomerFacts:
    """What the customer-facing draft is made from: scrubbed, with no names at all."""

    title: str
    severity: str
    started_at: datetime
    ended_at: datetime | None
    duration: float
    summary: Section
    impact: Section
    root_cause: Section
    resolution: Section
    prevention: list[str]
    prompt_mark: str = PROMPT_MARK
    review: list[review_.Finding] = field(default_factory=list)  # to check before publishing

    def context(self) -> dict[str, Any]:
        """The template's variables."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def customer_facts(facts: Facts) -> CustomerFacts:
    """The customer-facing subset of the facts, every text scrubbed, with what to review."""
    words = list(facts.private_words)
    out = CustomerFacts(
        title=scrub(facts.incident.title, private_words=words),
        severity=facts.incident.severity,
        started_at=facts.incident.declared_at,
        ended_at=facts.incident.resolved_at,
        duration=facts.incident.duration,
        summary=_scrub_section(facts.summary, words),
        impact=_scrub_section(facts.impact, words),
        root_cause=_scrub_section(facts.root_cause, words),
        resolution=_scrub_section(facts.resolution, words),
        prevention=[scrub(item.text, private_words=words) for item in facts.action_items],
    )
    shown = [
        ("the title", out.title),
        ('"What happened"', out.impact.text),
        ('"What went wrong and why"', out.root_cause.text),
        ('"What we did to fix it"', out.resolution.text),
        *(('"What we are doing to prevent it"', step) for step in out.prevention),
    ]
    return replace(out, review=review_.findings(shown))


# -- templates ----------------------------------------------------------------------------


def _environment(loader: jinja2.BaseLoader) -> jinja2.Environment:
    env = SandboxedEnvironment(  # templates may come from anyone who can edit the config
        loader=loader,
        autoescape=False,  # Markdown, not HTML
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(utc=utc, clock=clock, day=day, duration=duration)
    return env


@cache
def _template(path: str, includes: tuple[str, ...], mtime: float) -> jinja2.Template:
    file = Path(path)
    env = _environment(template_files.loader_for(file, includes, TEMPLATES))
    template = env.get_template(file.name)
    template_files.check_references(env, file.name, includes, TEMPLATES)  # before any render
    return template


def load_template(path: str = "", includes: Sequence[str] = ()) -> jinja2.Template:
    """The internal template at `path` ("" = built-in), which may include only the files of
    its folder named in `includes`; ValueError saying what is wrong."""
    file = Path(path).expanduser() if path.strip() else TEMPLATES / INTERNAL_TEMPLATE
    if not file.is_file():
        raise ValueError(f"no template file at {file}")
    try:
        return _template(str(file.resolve()), tuple(includes), file.stat().st_mtime)
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"{file} line {exc.lineno}: {exc.message}") from None
    except jinja2.TemplateNotFound as exc:
        raise ValueError(f"{file}: cannot include {exc.name!r}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {file}: {exc}") from None


def check_template(path: str, includes: Sequence[str] = ()) -> None:
    """Load the template and render it with sample facts; ValueError if either fails."""
    template = load_template(path, includes)
    try:
        template.render(sample_facts().context())
    except jinja2.TemplateError as exc:
        raise ValueError(f"{path or 'the built-in template'} does not render: {exc}") from None


def render(facts: Facts, *, template_path: str = "", includes: Sequence[str] = ()) -> str:
    """The internal post-mortem as Markdown."""
    return load_template(template_path, includes).render(facts.context()).strip() + "\n"


def render_customer(facts: Facts) -> str:
    """The customer-facing draft as Markdown (built-in template, scrubbed facts only)."""
    template = load_template(str(TEMPLATES / CUSTOMER_TEMPLATE))
    return template.render(customer_facts(facts).context()).strip() + "\n"


def sample_facts() -> Facts:
    """Facts of a made-up incident, to check a template renders before it is needed."""
    start = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
    written = Section("summary", "The checkout failed for some customers.", "", written=True)
    return Facts(
        incident=IncidentFacts(
            number=1,
            title="Checkout errors",
            severity="SEV2",
            severity_description="Major",
            status="Resolved",
            declared_at=start,
            resolved_at=start + timedelta(hours=1),
            duration=3600,
            time_to_acknowledge=60,
            time_to_identify=600,
            channel_name="inc-1-checkout-errors",
            declared_by="Alice",
        ),
        summary=written,
        impact=Section("impact", "", PROMPTS["impact"]),
        root_cause=Section("root_cause", "", PROMPTS["root_cause"], hint="A bad deploy."),
        resolution=Section("resolution", "Rolled back.", PROMPTS["resolution"]),
        manager="Alice",
        roles=[RoleHolder("Incident manager", "Alice")],
        participants=["Alice", "Bob"],
        status_history=[Milestone("Declared", start, 0)],
        updates=[UpdateFact(start, "Alice", "Looking into it.", "Identified")],
        timeline=["- **2025-03-14 09:00:00** · Alice declared incident #1"],
        timeline_markdown="### Timeline\n\n- **2025-03-14 09:00:00** · Alice declared\n",
        action_items=[ActionFact(1, "Add an alert", "Bob", start.date(), "open")],
        owner="Alice",
        due_on=start.date(),
        completed_at=None,
        generated_at=start,
        private_words=["Alice", "Bob"],
    )
