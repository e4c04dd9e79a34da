"""Post-mortems: facts, sections, edits, due date, owner, completion, templates, the scrub."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot import action_items, incidents, postmortems
from bot.core.errors import InvalidInput
from bot.core.vocabulary import Role, Status
from bot.followups.policy import FollowUpPolicy
from bot.postmortems import docs
from storage import Database
from storage.models import Incident
from storage.models_postmortems import FollowUpReminder

T0 = datetime(2026, 3, 6, 10, 0, tzinfo=UTC)  # a Friday
POLICY = FollowUpPolicy(due_working_days=5)
ALICE, BOB, CAROL = "U0ALICE01", "U0BOB0001", "U0CAROL01"
NAMES = {ALICE: "Alice Archer", BOB: "Bob Baker", CAROL: "Carol Chen"}
SECTIONS = ["Summary", "Impact", "Root Cause", "Resolution", "Timeline", "Action Items"]


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def run_incident(db: Database, *, resolve: bool = True) -> int:
    """Declared at T0, identified at +10m with an update, resolved at +45m."""
    with db.session() as session:
        incident, _ = incidents.declare(
            session,
            title="Checkout is failing",
            severity="sev1",
            declared_by=ALICE,
            declare_key=uuid.uuid4().hex,
            summary="Payments fail at checkout.",
            impact="",
            manager=BOB,
            now=T0,
        )
        assert incident.id is not None
        incidents.assign_role(
            session, incident=incident, role=Role.SCRIBE, user_id=CAROL, actor=BOB, now=T0
        )
        incidents.post_update(
            session,
            incident=incident,
            author=BOB,
            message=f"An expired certificate; <@{CAROL}> is renewing it",
            status=Status.IDENTIFIED,
            now=T0 + minutes(10),
        )
        action_items.create(
            session,
            incident_id=incident.id,
            text="Alert on certificate expiry",
            owner=CAROL,
            created_by=BOB,
            via=action_items.Via.COMMAND,
            due_on=date(2026, 3, 20),
            policy=POLICY,
            now=T0,
        )
        if resolve:
            incidents.resolve(
                session, incident=incident, actor=BOB, resolution="Renewed it", now=T0 + minutes(45)
            )
            postmortems.on_resolved(
                session, incident_id=incident.id, policy=POLICY, actor=BOB, now=T0 + minutes(45)
            )
        return incident.id


def render(db: Database, incident_id: int, **kwargs: object) -> tuple[str, str, int]:
    with db.session() as session:
        pm = postmortems.render(
            session,
            incident_id=incident_id,
            name_of=NAMES.get,
            now=T0 + minutes(50),
            **kwargs,  # type: ignore[arg-type]
        )
        return pm.document, pm.customer, pm.version


def section(document: str, name: str) -> str:
    match = re.search(rf"^## {re.escape(name)}\n(.*?)(?=^## |\Z)", document, re.S | re.M)
    assert match is not None, name
    return match.group(1).strip()


def test_the_draft_has_six_sections_in_order_with_the_facts(db: Database) -> None:
    incident_id = run_incident(db)
    document, _, version = render(db, incident_id)
    assert re.findall(r"^## (.+)$", document, re.M) == SECTIONS and version == 1
    assert "| **Severity** | SEV1" in document
    assert "| **Duration** | 45m |" in document
    assert "| **Time to identify** | 10m |" in document
    assert "| **Incident manager** | Bob Baker |" in document
    assert "| **Scribe** | Carol Chen |" in document
    assert "| **Participants** | Alice Archer, Bob Baker, Carol Chen |" in document
    assert "| **Post-mortem owner** | Bob Baker |" in document
    assert "| **Post-mortem due** | Friday 13 March 2026 |" in document
    summary = section(document, "Summary")
    assert summary.startswith("Payments fail at checkout.") and "after 45m" in summary
    assert section(document, "Impact").startswith("> **TO FILL IN:**")  # nothing was given
    root = section(document, "Root Cause")
    assert root.startswith("> **TO FILL IN:**") and "@Carol Chen is renewing it" in root
    assert section(document, "Resolution") == "Renewed it"
    timeline = section(document, "Timeline")
    assert "- **2026-03-06 10:10 UTC** Identified (after 10m)" in timeline
    assert "- **2026-03-06 10:45 UTC** Resolved (after 45m)" in timeline
    assert "Bob Baker (status now Identified): An expired certificate" in timeline
    assert "### Timeline of incident #1" in timeline  # the timeline export, one level down
    assert (
        "- [ ] **AI-1** Alert on certificate expiry (owner: Carol Chen; due: Friday 20 March"
        in (section(document, "Action Items"))
    )
    # Drafting again without changes keeps the version.
    assert render(db, incident_id)[2] == 1


def test_edits_replace_drafts_and_an_emptied_section_goes_back(db: Database) -> None:
    incident_id = run_incident(db)
    with db.session() as session:
        prefill = postmortems.prefill(session, incident_id=incident_id, name_of=NAMES.get)
    assert prefill == {
        "summary": "Payments fail at checkout.",
        "impact": "",
        "root_cause": "An expired certificate; @Carol Chen is renewing it",
        "resolution": "Renewed it",
    }
    assert render(db, incident_id)[2] == 1
    changes = postmortems.Edit(
        summary="",
        impact="1,200 payments failed.",
        root_cause="Nobody watched the certificate's expiry.",
        resolution="",
        owner=CAROL,
        due_on=date(2026, 3, 16),
    )
    with db.session() as session:
        postmortems.edit(
            session, incident_id=incident_id, changes=changes, actor=BOB, policy=POLICY, now=T0
        )
    document, _, version = render(db, incident_id)
    assert version == 2
    assert section(document, "Impact") == "1,200 payments failed."
    assert section(document, "Root Cause") == "Nobody watched the certificate's expiry."
    assert section(document, "Summary").startswith("Payments fail at checkout.")  # the draft
    assert "| **Post-mortem owner** | Carol Chen |" in document
    assert "| **Post-mortem due** | Monday 16 March 2026 |" in document
    with db.session() as session:
        rows = session.exec(select(FollowUpReminder).where(FollowUpReminder.kind == "postmortem"))
        assert rows.one().due_at == datetime(2026, 3, 16, 9, 0, tzinfo=UTC)
    too_long = postmortems.Edit("x" * 3001, "", "", "", None, None)
    with db.session() as session, pytest.raises(InvalidInput) as caught:
        postmortems.edit(
            session, incident_id=incident_id, changes=too_long, actor=BOB, policy=POLICY, now=T0
        )
    assert set(caught.value.fields) == {"summary"}


def test_completion_needs_a_resolved_incident_and_stops_the_reminder(db: Database) -> None:
    open_id = run_incident(db, resolve=False)
    with db.session() as session, pytest.raises(InvalidInput, match="not resolved yet"):
        postmortems.complete(session, incident_id=open_id, actor=BOB, policy=POLICY)
    incident_id = run_incident(db)
    with db.session() as session:
        reminder = session.exec(
            select(FollowUpReminder).where(FollowUpReminder.kind == "postmortem")
        ).one()
        assert reminder.due_at == datetime(2026, 3, 13, 9, 0, tzinfo=UTC)
        pm, changed = postmortems.complete(
            session, incident_id=incident_id, actor=BOB, policy=POLICY
        )
        assert changed and pm.completed_by == BOB
        _, again = postmortems.complete(session, incident_id=incident_id, actor=BOB, policy=POLICY)
        assert not again
        session.refresh(reminder)
        assert reminder.due_at is None
    document, _, _ = render(db, incident_id)
    assert "| **Post-mortem state** | Complete" in document


def test_the_owner_follows_the_incident_manager_until_someone_is_chosen(db: Database) -> None:
    incident_id = run_incident(db)
    with db.session() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        incidents.assign_role(
            session, incident=incident, role=Role.INCIDENT_MANAGER, user_id=ALICE, actor=BOB
        )
    document, _, _ = render(db, incident_id)
    assert "| **Post-mortem owner** | Alice Archer |" in document


def test_the_customer_draft_is_scrubbed(db: Database) -> None:
    incident_id = run_incident(db)
    with db.session() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        incident.channel_name = "inc-1-checkout-is-failing"
        incident.impact = "Carol saw it in #inc-1-checkout-is-failing and <#C0123456789|ops>."
        session.add(incident)
    _, customer, _ = render(db, incident_id)
    for leak in ("Alice", "Bob", "Carol", "Archer", "Baker", "Chen", "U0", "inc-1", "ops"):
        assert leak not in customer, leak
    assert not re.search(r"(?m)^[^#\n][^\n]*#", customer)  # "#" only starts headings
    assert "Our team saw it in our incident channel and our incident channel." in customer


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("<@U0BOB0001|bob> rolled back", "Our team rolled back"),
        ("see <https://acme.slack.com/archives/C1/p1|this thread>", "see this thread"),
        ("see https://acme.slack.com/archives/C1/p1.", "see."),
        (
            "status at <https://status.example.com|our status page>",
            "status at our status page (https://status.example.com)",
        ),
        ("Bob Baker and Alice fixed it", "Our team fixed it"),
        ("we will fix it in C0123456789", "we will fix it in"),
    ],
)
def test_scrub(text: str, clean: str) -> None:
    assert docs.scrub(text, private_words=["Bob Baker", "Alice Archer"]) == clean


def test_templates_are_checked_before_use(tmp_path: Path) -> None:
    docs.check_template("")
    good = tmp_path / "good.md.j2"
    good.write_text("{% extends 'postmortem.md.j2' %}")  # custom templates may build on ours
    docs.check_template(str(good))
    with pytest.raises(ValueError, match="no template file"):
        docs.check_template(str(tmp_path / "missing.j2"))
    typo = tmp_path / "typo.md.j2"
    typo.write_text("{{ incident.tittle }}")
    with pytest.raises(ValueError, match="tittle"):
        docs.check_template(str(typo))
