"""Drill marks on the incident's surfaces, the step messages and the score."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from blocks import drills, incident, listing
from bot.drills import Score
from bot.drills.claims import Play
from bot.drills.scenario import Kind
from bot.incidents import IncidentView
from storage.models import Incident

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def view(*, drill: bool) -> IncidentView:
    inc = Incident(
        id=7, number=12, title="Checkout is down", severity="sev2", status="investigating",
        declared_by="U0ALICE", declare_key="k", declared_at=NOW - timedelta(hours=1),
        channel_id="C0INC", is_drill=drill,
    )  # fmt: skip
    return IncidentView(incident=inc, roles={})


def test_a_drill_is_marked_on_its_headline_topic_card_and_list_line() -> None:
    drill, real = view(drill=True), view(drill=False)
    assert incident.headline(drill) == "[DRILL] #12 Checkout is down"
    assert incident.headline(real) == "#12 Checkout is down"
    assert incident.topic(drill).startswith("DRILL (practice, not a real incident) | SEV2")
    assert not incident.topic(real).startswith("DRILL")
    card = str([b.to_dict() for b in incident.card_blocks(drill)])
    assert "[DRILL] #12" in card and "This is a drill" in card and ":performing_arts:" in card
    assert "drill" not in str([b.to_dict() for b in incident.card_blocks(real)]).lower()
    assert "[DRILL] #12" in listing.incident_line(drill, now=NOW)


def test_a_step_carries_its_key_and_says_it_is_simulated() -> None:
    play = Play(
        step_id=1, key="drill-7-3", incident_id=7, number=12, channel_id="C0INC",
        kind=Kind.ALERT, speaker="Alertmanager", icon=":fire:", subject="DbDown", text="db-1",
    )  # fmt: skip
    posted = {"blocks": [b.to_dict() for b in drills.step_blocks(play)]}
    assert drills.key_of(posted) == "drill-7-3"
    assert drills.key_of({"blocks": [{"block_id": "other"}]}) is None
    assert "nobody was paged" in str(posted)
    assert drills.step_text(play) == "[drill] Alert firing: DbDown: db-1"


def test_the_score_shows_each_measure() -> None:
    score = Score(
        number=12, title="Checkout", scenario="bad-deploy", acknowledge=120.0, manager=None,
        first_update=300.0, statuspage=420.0, updates=2, on_cadence=2, gaps=3,
        interval=1800.0, postmortem=False, duration=3300.0,
    )  # fmt: skip
    text = str([b.to_dict() for b in drills.score_blocks(score)])
    for line in (
        ":white_check_mark: *Time to acknowledge:* 2m",
        ":x: *Time to name an incident manager:* not done",
        "*Time to first update:* 5m",
        "*Time to status page update* (recorded, never published): 7m",
        ":x: *Updates on cadence:* 2 of 3 intervals within 30m (2 update(s))",
        ":x: *Post-mortem started:* no",
        "Scenario `bad-deploy` · lasted 55m",
    ):
        assert line in text, line
