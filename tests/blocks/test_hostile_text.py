"""Text people type is never markup: every builder in blocks/ escapes it.

`BUILDERS` names every public function of every module in blocks/. A new builder fails
`test_every_builder_is_covered` until it gets a case here (with hostile text in every field
it shows) or is listed in `NO_TEXT` as a helper that renders nothing typed.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.basic_objects import JsonObject

import blocks
from blocks import (
    action_items,
    alerts,
    drills,
    help,
    incident,
    insights,
    listing,
    modals,
    paging,
    postmortems,
    reminders,
    social,
    stakeholders,
    statuspage,
    timeline,
)
from blocks import outbox as outbox_blocks
from blocks.payloads import DeclareOrigin, MessageCopy, SharedMessage
from blocks.text import link, truncate
from bot.alerts.escalation import Targets
from bot.alerts.triage import TriageView
from bot.core import commands
from bot.core.vocabulary import Role, Severity
from bot.drills import Score
from bot.drills.claims import Play
from bot.drills.scenario import Kind as DrillKind
from bot.drills.scenario import Scenario, Step
from bot.followups import Subject
from bot.followups.claims import Outgoing as FollowUpOutgoing
from bot.followups.policy import Kind as FollowUpKind
from bot.incidents import IncidentView
from bot.insights.figures import Figures
from bot.insights.readiness import Habit
from bot.library import HomeLists
from bot.outbox import Counts, Undelivered
from bot.reminders.claims import Outgoing as ReminderOutgoing
from bot.reminders.policy import Kind as ReminderKind
from bot.stakeholders.actions import CommsRow
from bot.stakeholders.social import Post
from bot.stakeholders.wording import Facts, facts
from bot.statuspage.config import load_text
from storage.models import Incident
from storage.models_alerts import Alert, AlertGroup
from storage.models_postmortems import ActionItem, PostMortem
from storage.models_timeline import TimelineEntry
from tests.markup import FORBIDDEN, HOSTILE, texts

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
BENIGN = "Checkout is down for EU customers"


def triage_view(text: str) -> TriageView:
    """An alert group whose sender (a monitoring tool) put `text` everywhere it could."""
    labels = {"service": text[:100], "summary": text}
    group = AlertGroup(
        id=7,
        source="alertmanager",
        group_key="k",
        title=text[:300],
        severity="critical",
        labels=labels,
        firing_count=1,
        alert_count=1,
        first_alert_at=NOW,
        last_alert_at=NOW,
        created_at=NOW,
    )
    alert = Alert(
        id=1,
        group_id=7,
        source="alertmanager",
        fingerprint="f",
        title=text[:300],
        description=text,
        labels=labels,
        annotations={"summary": text, "description": text},
        links={"runbook": HOSTILE_LINK, "source": "https://prometheus.example/graph"},
    )
    return TriageView(group, (alert,), None, None)


PAGE = load_text(
    "name: Acme Status\nurl: https://status.acme.example\ncomponents:\n  - name: API\n",
    path="status.yml",
)
HOSTILE_LINK = "https://acme.slack.com/archives/C1/p1|<!here>"
TOKEN = re.compile(r"<([^<>|]*)(?:\|[^<>]*)?>")  # a token's target: `<target|label>`


# -- data with `text` in every field a person can type --------------------------------------


def view(
    text: str, *, channel: bool = True, manager: str | None = "U0BOB", drill: bool = False
) -> IncidentView:
    inc = Incident(
        is_drill=drill,
        id=7,
        number=12,
        title=text[:150],
        severity="sev2",
        summary=text,
        impact=text,
        resolution=text,
        status="investigating",
        declared_by="U0ALICE",
        declare_key="k",
        declared_at=NOW - timedelta(hours=1),
        channel_id="C0INC" if channel else None,
        broadcast_ts="1.2",
        broadcast_channel_id="C0BCAST",
        card_ts="1.1",
        origin_permalink=HOSTILE_LINK,
    )
    roles = {Role.INCIDENT_MANAGER: manager} if manager else {}
    return IncidentView(incident=inc, roles=roles)


def play(text: str, kind: DrillKind) -> Play:
    """A scenario step whose operator-written YAML put `text` everywhere."""
    return Play(
        step_id=1, key="drill-7-0", incident_id=7, number=12, channel_id="C0INC", kind=kind,
        speaker=text[:80], icon=":robot_face:", subject=text[:150], text=text,
    )  # fmt: skip


def step_case(builder: Callable[[Play], Any], kind: DrillKind) -> Callable[[str], Any]:
    return lambda t: builder(play(t, kind))


def drill_score(text: str, *, done: bool = True) -> Score:
    at = 90.0 if done else None
    return Score(
        number=12, title=text[:150], scenario=text[:64], acknowledge=at, manager=at,
        first_update=at, statuspage=at, updates=2 if done else 0, on_cadence=2 if done else 0,
        gaps=3, interval=1800.0 if done else None, postmortem=done, duration=at,
    )  # fmt: skip


def drill_scenario(text: str) -> Scenario:
    step = Step(timedelta(0), DrillKind.MESSAGE, text, text[:80], ":robot_face:")
    return Scenario(text[:64], text[:150], Severity.SEV2, text, (step,))


def item(text: str) -> ActionItem:
    return ActionItem(
        id=3,
        incident_id=7,
        text=text,
        owner="U0BOB",
        due_on=date(2026, 3, 9),
        state="open",
        via="command",
        permalink=HOSTILE_LINK,
        created_by="U0ALICE",
        created_at=NOW,
    )


def entry(text: str) -> TimelineEntry:
    return TimelineEntry(
        id=1,
        incident_id=7,
        kind="note",
        occurred_at=NOW,
        author="bot-like",
        author_name=text,
        text=text,
        files=f"{text}\nreport.txt",
        permalink=HOSTILE_LINK,
        added_via="command",
    )


def reminder(text: str, kind: ReminderKind, manager: str | None) -> ReminderOutgoing:
    return ReminderOutgoing(
        reminder_id=1,
        kind=kind,
        key="k1",
        due_at=NOW,
        incident_id=7,
        number=12,
        title=text[:150],
        severity=Severity.SEV2,
        channel_id="C0INC",
        manager=manager,
        since=NOW - timedelta(minutes=40),
        nudge_number=1,
        check_first=False,
        pending_since=NOW,
    )


def followup(text: str, kind: FollowUpKind) -> FollowUpOutgoing:
    subject = Subject(
        kind=kind,
        subject_id=3,
        incident_id=7,
        number=12,
        title=text[:150],
        channel_id="C0INC",
        recipient="U0BOB",
        due_on=date(2026, 3, 1),
        is_open=True,
        text=text,
        permalink=HOSTILE_LINK,
    )
    return FollowUpOutgoing(
        reminder_id=1,
        key="k2",
        subject=subject,
        recipient="U0BOB",
        days_late=1,
    )


def postmortem() -> PostMortem:
    return PostMortem(id=1, incident_id=7, version=2, document="", customer="", due_on=None)


def notice(text: str, trigger: str = "update") -> Facts:
    payload = {
        "number": 12,
        "title": text[:150],
        "severity": "sev2",
        "status": "investigating",
        "impact": text,
        "message": text,
        "manager_name": text,
        "trigger": trigger,
        "next_update_at": NOW.isoformat(),
        "status_page_url": "https://status.example.com",
    }
    return facts(payload, quadrant="keep_satisfied")


def comms_row(text: str, *, state: str = "sent", channel: str = "email", to: str = "") -> CommsRow:
    return CommsRow(
        trigger="manual",
        group=text,
        channel=channel,
        recipient=to or text,
        state=state,
        created_at=NOW,
        sent_at=NOW if state == "sent" else None,
        attempts=1,
        last_error=text if state != "sent" else None,
        requested_by="U0ALICE",
        summary=text,
    )


def social_post(text: str, state: str = "held", *, given_up: bool = False) -> Post:
    return Post(
        id=3,
        key="k" * 64,
        incident_id=7,
        state=state,
        text=text,
        decided_by="U0ALICE",
        url="https://social.example/@acme/1" if state == "sent" else None,
        error=text if given_up else None,
        given_up=given_up,
    )


def undelivered(text: str, *, failed: bool = False, private: bool = False) -> Undelivered:
    """An outbox delivery of an incident titled `text`, whose last error quotes `text`."""
    return Undelivered(
        row_id=3,
        incident_id=7,
        number=12,
        title=text[:150],
        private=private,
        subscriber="card",
        event_kind="status_changed",
        attempts=2,
        last_error=f"gave up: Slack answered `{text}`",
        due_at=None if failed else NOW,
        created_at=NOW - timedelta(minutes=3),
        leased=False,
    )


def reminder_message(text: str) -> dict[str, Any]:
    out = reminder(text, ReminderKind.UPDATE, "U0BOB")
    return {"blocks": [b.to_dict() for b in reminders.reminder_blocks(out, now=NOW)]}


# -- every builder, called with `text` in every field ---------------------------------------

Case = Callable[[str], Any]
SUBS = commands.catalogue()

BUILDERS: dict[str, list[Case]] = {
    "action_items.item_line": [
        lambda t: action_items.item_line(item(t), today=NOW.date(), incident=view(t).incident)
    ],
    "action_items.list_blocks": [
        lambda t: action_items.list_blocks(
            [(item(t), view(t).incident)], heading=t, empty=t, today=NOW.date(), incident_id=None
        ),
        lambda t: action_items.list_blocks(
            [], heading=t, empty=t, today=NOW.date(), incident_id=None
        ),
    ],
    "action_items.list_text": [lambda t: action_items.list_text(t, 2)],
    "action_items.created_text": [
        lambda t: action_items.created_text(item(t), view(t).incident, actor="U0ALICE")
    ],
    "action_items.owner_blocks": [
        lambda t: action_items.owner_blocks(item(t), view(t).incident, actor="U0ALICE")
    ],
    "action_items.owner_text": [lambda t: action_items.owner_text(item(t), view(t).incident)],
    "action_items.action_item_modal": [
        lambda t: action_items.action_item_modal(
            text=t, owner="U0BOB", choices=[view(t)], permalink=HOSTILE_LINK
        ),
        lambda t: action_items.action_item_modal(text=t, owner="U0BOB", incident=view(t).incident),
    ],
    "action_items.followup_text": [
        lambda t: action_items.followup_text(followup(t, FollowUpKind.ACTION_ITEM)),
        lambda t: action_items.followup_text(followup(t, FollowUpKind.POSTMORTEM)),
    ],
    "action_items.followup_blocks": [
        lambda t: action_items.followup_blocks(followup(t, FollowUpKind.ACTION_ITEM)),
        lambda t: action_items.followup_blocks(followup(t, FollowUpKind.POSTMORTEM)),
    ],
    "action_items.marked_done": [
        lambda t: action_items.marked_done(
            {
                "blocks": [
                    b.to_dict()
                    for b in action_items.owner_blocks(item(t), view(t).incident, actor="U0A")
                ]
            },
            user="U0BOB",
            label="AI-3 is done",
        )
    ],
    "help.help_text": [lambda t: help.help_text(SUBS)],
    "help.help_blocks": [lambda t: help.help_blocks(SUBS, unknown=t, suggestion="list")],
    "incident.headline": [lambda t: incident.headline(view(t))],  # plain text (headers)
    "incident.topic": [
        lambda t: incident.topic(view(t)),
        lambda t: incident.topic(view(t, drill=True)),
        lambda t: incident.topic(view(t, manager=None)),
    ],
    "incident.card_blocks": [
        lambda t: incident.card_blocks(view(t)),
        lambda t: incident.card_blocks(view(t, drill=True)),
    ],
    "incident.card_text": [
        lambda t: incident.card_text(view(t)),
        lambda t: incident.card_text(view(t, drill=True)),
    ],
    "drills.step_text": [step_case(drills.step_text, k) for k in DrillKind],
    "drills.step_blocks": [step_case(drills.step_blocks, k) for k in DrillKind],
    "drills.score_text": [lambda t: drills.score_text(drill_score(t))],
    "drills.score_blocks": [
        lambda t: drills.score_blocks(drill_score(t)),
        lambda t: drills.score_blocks(drill_score(t, done=False)),
    ],
    "drills.scenarios_text": [lambda t: drills.scenarios_text([drill_scenario(t)])],
    "incident.broadcast_blocks": [
        lambda t: incident.broadcast_blocks(view(t), now=NOW),
        lambda t: incident.broadcast_blocks(view(t, channel=False), now=NOW),
    ],
    "incident.checklist_text": [lambda t: incident.checklist_text(view(t))],
    "incident.checklist_blocks": [lambda t: incident.checklist_blocks(view(t))],
    "incident.setup_failed_text": [lambda t: incident.setup_failed_text(view(t), t)],
    "incident.setup_failed_blocks": [lambda t: incident.setup_failed_blocks(view(t), t)],
    "incident.update_blocks": [
        lambda t: incident.update_blocks(
            view(t), author="U0BOB", message=t, new_status="monitoring"
        )
    ],
    "listing.incident_line": [lambda t: listing.incident_line(view(t), now=NOW)],
    "listing.list_blocks": [
        lambda t: listing.list_blocks([view(t)], now=NOW, include_resolved=True)
    ],
    "insights.home_view": [
        lambda t: insights.home_view(
            HomeLists(
                open_incidents=[view(t)],
                open_count=1,
                my_roles=[(view(t), Role.INCIDENT_MANAGER)],
                my_roles_count=1,
                my_items=[(item(t), view(t).incident)],
                my_items_count=1,
                overdue=[],
                overdue_count=0,
            ),
            Figures(
                since=NOW - timedelta(days=30),
                until=NOW,
                total=1,
                open_now=1,
                by_severity={"sev2": 1},
                measures={},
                resolve_by_severity={},
            ),
            now=NOW,
            today=NOW.date(),
            habits=[Habit("manager", t, t, 1.0, 1, 1, t)],
        )
    ],
    "insights.readiness_text": [
        lambda t: insights.readiness_text([Habit("alerts", t, t, 0.5, 1, 2, t)]),
        lambda t: insights.readiness_text([Habit("cadence", "Communicating", t, None, 0, 0, t)]),
    ],
    "modals.declare_modal": [
        lambda t: modals.declare_modal(
            user_id="U0ALICE", title=t, summary=t, origin=DeclareOrigin(permalink=t[:1000])
        )
    ],
    "modals.update_modal": [lambda t: modals.update_modal(view(t), message=t)],
    "modals.resolve_modal": [lambda t: modals.resolve_modal(view(t))],
    "modals.role_modal": [lambda t: modals.role_modal(view(t))],
    "postmortems.document_text": [lambda t: postmortems.document_text(view(t), postmortem())],
    "postmortems.document_blocks": [
        lambda t: postmortems.document_blocks(view(t), postmortem(), owner="U0BOB")
    ],
    "postmortems.postmortem_modal": [
        lambda t: postmortems.postmortem_modal(
            view(t),
            prefill={"summary": t, "impact": t, "root_cause": t, "resolution": t},
            owner="U0BOB",
            due_on=None,
        )
    ],
    "reminders.reminder_text": [
        lambda t: reminders.reminder_text(reminder(t, ReminderKind.UPDATE, "U0BOB"), now=NOW),
        lambda t: reminders.reminder_text(reminder(t, ReminderKind.NO_MANAGER, None), now=NOW),
    ],
    "reminders.reminder_blocks": [
        lambda t: reminders.reminder_blocks(
            reminder(t, ReminderKind.UPDATE, None), now=NOW, nudge_max=3
        ),
        lambda t: reminders.reminder_blocks(
            reminder(t, ReminderKind.NO_MANAGER, "U0BOB"), now=NOW, nudge_max=3
        ),
    ],
    "reminders.snoozed_blocks": [
        lambda t: reminders.snoozed_blocks(
            reminder_message(t), incident_id=7, user="U0BOB", until=NOW
        )
    ],
    "timeline.entry_line": [lambda t: timeline.entry_line(entry(t))],
    "timeline.timeline_text": [lambda t: timeline.timeline_text(view(t), 3)],
    "timeline.timeline_blocks": [
        lambda t: timeline.timeline_blocks(view(t), [entry(t)], total=40, page=1, per_page=30),
        lambda t: timeline.timeline_blocks(view(t), [], total=0, page=0),
    ],
    "timeline.incident_option": [lambda t: timeline.incident_option(view(t))],
    "timeline.pick_incident_modal": [
        lambda t: timeline.pick_incident_modal(
            [view(t)],
            shared=SharedMessage(channel="C0GEN", message=MessageCopy(ts="1.2", text=t[:2000])),
            preview=t,
        )
    ],
    "alerts.triage_blocks": [lambda t: alerts.triage_blocks(triage_view(t))],
    "alerts.triage_text": [lambda t: alerts.triage_text(triage_view(t))],
    "alerts.headline": [lambda t: alerts.headline(triage_view(t))],
    "alerts.dismiss_modal": [lambda t: alerts.dismiss_modal(triage_view(t))],
    "alerts.link_modal": [lambda t: alerts.link_modal(triage_view(t), [(7, t[:150])])],
    "alerts.escalation_text": [
        lambda t: alerts.escalation_text(triage_view(t), 1, 2, Targets(users=("U0BOB",)))
    ],
    "alerts.resolved_notice": [lambda t: alerts.resolved_notice(triage_view(t))],
    "stakeholders.notice_text": [lambda t: stakeholders.notice_text(notice(t))],
    "stakeholders.notice_blocks": [
        lambda t: stakeholders.notice_blocks(
            notice(t), key="k", manager_id="U0BOB", group=t, channel_id="C0INC"
        ),
        lambda t: stakeholders.notice_blocks(
            notice(t, "declared"), key="k", manager_id=None, group=t
        ),
    ],
    "stakeholders.preview_blocks": [
        lambda t: stakeholders.preview_blocks(
            [t, t], what="Who will be notified", private_note=True
        )
    ],
    "stakeholders.comms_text": [lambda t: stakeholders.comms_text(12, [comms_row(t)])],
    "stakeholders.comms_blocks": [
        lambda t: stakeholders.comms_blocks(
            12,
            [
                comms_row(t),
                comms_row(t, state="failed"),
                comms_row(t, state="retrying", channel="slack", to="S0GROUP1"),
                comms_row(t, state="held", channel="slack", to="U0BOB"),
            ],
            incident_id=7,
        )
    ],
    "paging.incident_escalation_text": [
        lambda t: paging.incident_escalation_text(
            number=3, title=t, manager="U0ALICE", level=0, levels=2, targets=Targets(("U0BOB",))
        )
    ],
    "paging.escalation_blocks": [
        lambda t: paging.escalation_blocks(
            paging.incident_escalation_text(
                number=3, title=t, manager=None, level=1, levels=2, targets=Targets(("U0B",))
            ),
            incident_id=7,
        )
    ],
    "social.preview_text": [
        lambda t: social.preview_text(social_post(t, "pending", given_up=True), number=12)
    ],
    "social.preview_blocks": [
        lambda t: social.preview_blocks(social_post(t), number=12, manager="U0ALICE"),
        lambda t: social.preview_blocks(social_post(t, "skipped"), number=12, manager=None),
        lambda t: social.preview_blocks(social_post(t, "sent"), number=12, manager=None),
        lambda t: social.preview_blocks(
            social_post(t, "pending", given_up=True), number=12, manager=None
        ),
    ],
    "social.edit_modal": [lambda t: social.edit_modal(social_post(t))],
    "statuspage.statuspage_modal": [
        lambda t: statuspage.statuspage_modal(
            PAGE, incident_id=7, headline=t, title=t[:150], on_page_url=None
        )
    ],
    "outbox.delivery_line": [
        lambda t: outbox_blocks.delivery_line(undelivered(t), now=NOW),
        lambda t: outbox_blocks.delivery_line(undelivered(t, failed=True), now=NOW),
    ],
    "outbox.deliveries_blocks": [
        lambda t: outbox_blocks.deliveries_blocks(
            [undelivered(t), undelivered(t, failed=True, private=True)],
            Counts(pending=1, overdue=0, failed=1),
            now=NOW,
        )
    ],
    "text.link": [lambda t: link(HOSTILE_LINK, t), lambda t: link("https://example.com/x", t)],
    "text.truncate": [lambda t: truncate(t, 20)],  # plain: used on both, escaping is the caller's
}

# Helpers that render nothing a person typed (ids, labels, numbers, dates, lookups).
NO_TEXT = {
    "drills.key_block_id",  # our own key
    "drills.key_of",  # reads a block id back
    "paging.incident_escalation_sms",  # plain text for an SMS, never Slack markup
    "social.outcome",  # plain text for the preview's fallback; covered through preview_text
    "outbox.deliveries_text",  # counts only
    # the figures: counts and durations, nothing typed
    "insights.figures_text",
    "insights.habit_mark",
    "insights.severity_text",
    "insights.stats_blocks",
    "insights.stats_text",
    "insights.digest_blocks",
    "insights.digest_text",
    "alerts.url",  # makes a sender's URL safe inside <...|...>; covered through triage_blocks
    "alerts.group_of",  # reads a block id back
    "alerts.declare_prefill",  # plain text for the declare form's inputs
    "alerts.oncall_text",  # the operator's rules file only
    # the status page's pieces that render only the operator's configuration and our own URLs
    "statuspage.card_field",
    "statuspage.checklist_note",
    "statuspage.component_options",
    "statuspage.status_options",
    "statuspage.form_fields",
    "statuspage.resolve_fields",
    "statuspage.maintenance_modal",
    "action_items.due_label",
    "payloads.of_action",  # decoders: parse what Slack sends back, render nothing
    "payloads.of_view",
    "action_items.incident_choices",
    "action_items.key_of",
    "postmortems.state_label",
    "incident.status_options",
    "incident.severity_options",
    "reminders.key_block_id",
    "stakeholders.key_block_id",
    "stakeholders.key_of",
    "stakeholders.email_managers_blocks",
    "stakeholders.quiet_input",
    "reminders.key_of",
    "reminders.snooze_action_id",
    "reminders.snooze_label",
    "timeline.page_count",
    "timeline.clamp_page",
    "text.slack_date",
    "text.mention",
    "text.duration",
}
# Builders whose output is plain text by design (Slack does not parse it).
PLAIN = {"incident.headline", "text.truncate", "timeline.incident_option"}
# Builders that show no typed text at all (the case still checks nothing leaks).
SHOW_NOTHING_TYPED = {
    "help.help_text",
    "incident.topic",
    "modals.role_modal",
    "stakeholders.comms_text",
}


def public_functions() -> Iterator[str]:
    """`module.function` for every public function defined in a module of blocks/."""
    for info in pkgutil.iter_modules(blocks.__path__):
        module = importlib.import_module(f"blocks.{info.name}")
        for name, value in vars(module).items():
            if (
                inspect.isfunction(value)
                and value.__module__ == module.__name__
                and not name.startswith("_")
            ):
                yield f"{info.name}.{name}"


def test_every_builder_is_covered() -> None:
    found = set(public_functions())
    missing = found - set(BUILDERS) - NO_TEXT
    assert not missing, f"builders without a hostile-text case: {sorted(missing)}"
    assert not (set(BUILDERS) | NO_TEXT) - found, "cases for builders that no longer exist"


# -- walking the output -------------------------------------------------------------------


def as_json(result: Any) -> Any:
    if isinstance(result, JsonObject):
        return result.to_dict()
    if isinstance(result, list | tuple):
        return [as_json(x) for x in result]
    return result


def rendered(name: str, case: Case, text: str) -> list[tuple[str, str]]:
    return list(texts(as_json(case(text)), top_plain=name in PLAIN))


CASES = [(name, i, case) for name, cases in BUILDERS.items() for i, case in enumerate(cases)]


@pytest.mark.parametrize(("name", "index", "case"), CASES, ids=[f"{n}#{i}" for n, i, _ in CASES])
def test_typed_text_never_becomes_markup(name: str, index: int, case: Case) -> None:
    hostile = rendered(name, case, HOSTILE)
    benign = rendered(name, case, BENIGN)
    allowed = {tok for kind, text in benign if kind == "mrkdwn" for tok in TOKEN.findall(text)}
    for kind, text in hostile:
        assert "&amp;lt;" not in text and "&amp;amp;" not in text, f"escaped twice: {text!r}"
        if kind == "plain":
            assert "&lt;" not in text and "&amp;" not in text, f"plain text escaped: {text!r}"
            continue
        for bad in FORBIDDEN:
            assert bad not in text, f"{bad} from input survived in {name}: {text!r}"
        made = set(TOKEN.findall(text)) - allowed
        assert not made, f"markup from input in {name}: {made} in {text!r}"
    shown = " ".join(text for _, text in hostile)
    if name not in SHOW_NOTHING_TYPED:
        assert "&lt;!everyone&gt;" in shown or "<!everyone>" in shown, "the text was dropped"


def test_the_bot_still_makes_its_own_mentions() -> None:
    text = reminders.reminder_text(reminder(HOSTILE, ReminderKind.UPDATE, None), now=NOW)
    assert text.count("<!channel>") == 1  # the bot's own, not the one typed in the title
    assert "&lt;!channel&gt;" in text
    line = listing.incident_line(view(HOSTILE), now=NOW)
    assert "<@U0BOB>" in line and "<#C0INC>" in line


def test_a_link_that_could_break_out_is_not_made() -> None:
    assert link(HOSTILE_LINK, "this message") == "this message"
    assert link("javascript:alert(1)", "x") == "x"
    assert link("https://acme.slack.com/archives/C1/p1", "a<b") == (
        "<https://acme.slack.com/archives/C1/p1|a&lt;b>"
    )


def test_truncating_escaped_text_never_cuts_an_escape_in_half() -> None:
    from blocks.text import escape

    text = escape("<" * 10)
    for limit in range(2, len(text)):
        cut = truncate(text, limit)
        assert len(cut) <= limit
        assert re.search(r"&(?!lt;)", cut) is None, cut
