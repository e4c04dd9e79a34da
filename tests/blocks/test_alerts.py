"""The triage message: escaped text, safe links, buttons by state; the on-call summary."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from blocks import alerts as render
from bot.alerts.escalation import Level, Policy
from bot.alerts.oncall import Override, Schedule
from bot.alerts.rules import EMPTY, AlertRules
from bot.alerts.triage import TriageView
from storage.models_alerts import Alert, AlertGroup

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def group(**fields: object) -> AlertGroup:
    values: dict[str, object] = {
        "id": 7,
        "source": "alertmanager",
        "group_key": "k",
        "title": "Disk <full> & slow",
        "severity": "critical",
        "labels": {"service": "db<1>", "team": "dba"},
        "firing_count": 1,
        "alert_count": 1,
        "first_alert_at": T0,
        "last_alert_at": T0,
        "created_at": T0,
    }
    values.update(fields)
    return AlertGroup(**values)  # type: ignore[arg-type]


def alert(**fields: object) -> Alert:
    values: dict[str, object] = {
        "id": 1,
        "group_id": 7,
        "source": "alertmanager",
        "fingerprint": "f",
        "title": "Disk <full> on db-1",
        "labels": {"service": "db<1>", "team": "dba", "instance": "db-1"},
        "links": {
            "runbook": "https://runbooks.example.com/disk?a=1&b=2|x",
            "source": "http://prometheus.example/graph?g0.expr=<x>",
        },
    }
    values.update(fields)
    return Alert(**values)  # type: ignore[arg-type]


def rendered(v: TriageView) -> str:
    return str([block.to_dict() for block in render.triage_blocks(v)])


def test_text_from_senders_is_escaped_and_links_are_safe() -> None:
    text = rendered(TriageView(group(), (alert(),), None, None))
    assert "Disk &lt;full&gt; &amp; slow" in text and "<full>" not in text
    assert "`service=db&lt;1&gt;`" in text
    assert "`instance=db-1`" in text  # the alert's own label; the group's are not repeated
    assert "<https://runbooks.example.com/disk?a=1&amp;b=2%7Cx|Runbook>" in text
    assert "<http://prometheus.example/graph?g0.expr=%3Cx%3E|Source>" in text
    assert "critical (SEV1)" in text and "1 of 1 firing" in text
    assert render.group_of({"blocks": [b.to_dict() for b in render.triage_blocks(
        TriageView(group(), (), None, None))]}) == 7  # fmt: skip


def test_buttons_follow_the_state() -> None:
    def actions(g: AlertGroup, number: int | None = None) -> list[str]:
        blocks = [b.to_dict() for b in render.triage_blocks(TriageView(g, (), number, "C9"))]
        return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]

    assert actions(group()) == [render.DECLARE, render.LINK, render.ACKNOWLEDGE, render.DISMISS]
    acked = group(state="acknowledged", acknowledged_by="U0BOB", acknowledged_at=T0)
    assert actions(acked) == [render.DECLARE, render.LINK, render.DISMISS]
    assert actions(group(status="resolved", resolved_at=T0)) == [
        render.DECLARE,
        render.LINK,
        render.DISMISS,
    ]
    assert actions(group(state="dismissed", dismissed_by="U0BOB", dismiss_reason="noise")) == []
    declared = group(state="declared", incident_id=3)
    assert actions(declared, 3) == []
    assert "Declared as incident #3 in <#C9>" in rendered(TriageView(declared, (), 3, "C9"))


def test_declare_prefill() -> None:
    v = TriageView(group(alert_count=2), (alert(description="Only 2% left"),), None, None)
    prefill = render.declare_prefill(v, "https://slack.example/archives/C1/p1")
    assert prefill["title"] == "Disk <full> & slow"  # a plain-text input: not escaped
    assert prefill["severity"] == "sev1"
    assert "2 alert(s) from Alertmanager" in prefill["summary"]
    assert "Alert: https://slack.example/archives/C1/p1" in prefill["summary"]
    assert "Runbook: https://runbooks.example.com/disk" in prefill["summary"]
    assert (
        render.declare_prefill(TriageView(group(severity="odd"), (), None, None), "")["severity"]
        == ""
    )


def test_oncall_summary() -> None:
    paris = ZoneInfo("Europe/Paris")
    schedule = Schedule(
        "primary",
        ("U0ALICE", "U0BOB"),
        paris,
        0,
        time(9),
        date(2026, 11, 23),
        (Override("U0DAVE", T0 - timedelta(hours=1), T0 + timedelta(hours=1)),),
    )
    policy = Policy(
        "payments",
        (Level(timedelta(0), schedule="primary"), Level(timedelta(minutes=10), group="S0SRE")),
    )
    rules = AlertRules(policies={"payments": policy}, schedules={"primary": schedule})
    text = render.oncall_text(rules, T0)
    assert "• primary: <@U0DAVE> until" in text and "(override)" in text
    assert "1. at once: <@U0DAVE> (schedule primary); 2. after 10m: <!subteam^S0SRE>" in text
    later = render.oncall_text(rules, T0 + timedelta(days=1))
    assert "• primary: <@U0BOB>" in later  # the week of 30 November is Bob's
    assert "ALERT_RULES_FILE" in render.oncall_text(EMPTY, T0)
