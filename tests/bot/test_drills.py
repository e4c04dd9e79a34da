"""Drills in the domain: scenarios from YAML, the script played with a controllable clock and
across a restart (each step once), the isolation rules (nothing public, no real stakeholder
group, no outside paging, not in the figures) and the score."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from bot import drills, incidents
from bot.alerts import triage
from bot.alerts.intake import store
from bot.alerts.parsers import parse_prometheus
from bot.alerts.rules import load_rules
from bot.alerts.yamlfile import FileError
from bot.core.delivery import Job, Receipt
from bot.core.errors import ConfigError, InvalidInput
from bot.core.vocabulary import Role, Status
from bot.drills import scenario as scenarios
from bot.drills.claims import DrillStepSource, Play, StepPolicy
from bot.insights import figures
from bot.settings import load_settings
from bot.slack.drills import StepRunner
from bot.stakeholders import actions, config, planning
from bot.stakeholders.planning import NoticePolicy, plan_event
from bot.stakeholders.webhooks import Webhook
from bot.statuspage import publish, snapshot
from bot.statuspage.config import load_text
from storage import Database
from storage.models import Incident
from storage.models_alerts import AlertGroup
from storage.models_drills import DrillStep
from storage.models_stakeholders import StakeholderNotice
from storage.models_statuspage import StatusIncident
from tests.alert_fixtures import payload

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ALICE, BOB, CAROL = "U0ALICE01", "U0BOB0001", "U0CAROL01"
LEASE = timedelta(seconds=30)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# -- scenarios -------------------------------------------------------------------------------


def test_the_two_shipped_scenarios_load() -> None:
    found = scenarios.builtin()
    assert set(found) == {"database-failover", "bad-deploy"}
    for scenario in found.values():
        kinds = {step.kind for step in scenario.steps}
        assert {scenarios.Kind.ALERT, scenarios.Kind.MESSAGE} <= kinds
        assert [s.at for s in scenario.steps] == sorted(s.at for s in scenario.steps)
    failover = found["database-failover"]
    assert set(scenarios.Kind) == {s.kind for s in failover.steps}


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("title: T\nsteps:\n  - at: soon\n    kind: alert\n    name: A\n    text: x\n", 3,
         "steps[0].at: 'soon' is not a delay"),
        ("title: T\nsteps:\n  - at: 1m\n    kind: page\n    text: x\n", 4,
         "steps[0].kind: must be one of alert, message, component, stakeholder"),
        ("title: T\nsteps:\n  - at: 1m\n    kind: message\n", 3, "steps[0].text: is required"),
        ("title: T\nsteps:\n  - at: 1m\n    kind: alert\n    text: x\n", 3,
         "steps[0].name: is required"),
        ("title: T\nseverity: sev9\nsteps: []\n", 2, "severity: must be one of"),
        ("title: T\nsteps:\n  - at: 1m\n    kind: message\n    text: x\n    icon: robot\n", 6,
         "steps[0].icon: must be an emoji code"),
        ("title: T\nstep: []\n", 2, "step: unknown key"),
        ("title: [unclosed\n", 2, "not valid YAML"),
    ],
)  # fmt: skip
def test_a_bad_scenario_names_its_file_line_and_reason(text: str, line: int, reason: str) -> None:
    with pytest.raises(FileError) as caught:
        scenarios.parse(text, file="game.yml", name="game")
    assert caught.value.file == "game.yml"
    assert caught.value.line == line, str(caught.value)
    assert reason in str(caught.value)


def test_drills_dir_replaces_the_built_in_ones_and_is_checked_at_start_up(tmp_path: Path) -> None:
    (tmp_path / "outage.yml").write_text(
        "title: Everything is down\nseverity: sev1\nsteps:\n"
        "  - at: 30s\n    kind: stakeholder\n    from: CEO\n    text: News?\n"
    )
    settings = load_settings(env_file=None, drills_dir=str(tmp_path))
    found = settings.drill_scenarios()
    assert list(found) == ["outage"]
    assert found["outage"].steps[0].at == timedelta(seconds=30)
    (tmp_path / "broken.yml").write_text("title: T\nsteps:\n  - at: 1m\n    kind: nope\n")
    with pytest.raises(ConfigError, match=r"broken\.yml line 4: steps\[0\]\.kind"):
        load_settings(env_file=None, drills_dir=str(tmp_path))
    with pytest.raises(ConfigError, match="is not a directory"):
        load_settings(env_file=None, drills_dir=str(tmp_path / "missing"))
    assert set(load_settings(env_file=None).drill_scenarios()) == {
        "database-failover",
        "bad-deploy",
    }


# -- starting and playing ----------------------------------------------------------------------


def declare_drill(
    db: Database,
    *,
    name: str | None = "database-failover",
    unmanaged: bool = True,
    channel: bool = True,
    now: datetime = T0,
) -> int:
    """A drill as `/incident drill <name>` makes it (its channel made at once if `channel`)."""
    scenario = scenarios.builtin()[name] if name else None
    with db.session() as session:
        incident, _ = incidents.declare(
            session,
            title=scenario.title if scenario else "Practice",
            severity="sev2",
            declared_by=ALICE,
            declare_key=uuid.uuid4().hex,
            drill=True,
            now=now,
        )
        drills.start(
            session, incident=incident, actor=ALICE, scenario=scenario, unmanaged=unmanaged, now=now
        )
        if channel:
            incident.channel_id = f"C{incident.id:08d}"
        session.add(incident)
        assert incident.id is not None
        return incident.id


def declare_real(db: Database, *, now: datetime = T0, title: str = "Real outage") -> int:
    with db.session() as session:
        incident, _ = incidents.declare(
            session, title=title, severity="sev2", declared_by=ALICE,
            declare_key=uuid.uuid4().hex, now=now,
        )  # fmt: skip
        assert incident.id is not None
        return incident.id


class Channel:
    """Where steps are posted: a send function that remembers each key it posted (and can
    find it again, as SlackPost looks in the channel's history)."""

    def __init__(self) -> None:
        self.posted: list[Play] = []

    def deliver(
        self, job: Job[Play], clock: Callable[[], datetime], renew: Callable[[], bool]
    ) -> Receipt:
        if job.attempt.check_first and any(p.key == job.attempt.key for p in self.posted):
            return Receipt(clock(), job.item.channel_id, "found", found=True)
        self.posted.append(job.item)
        return Receipt(clock(), job.item.channel_id, f"{len(self.posted)}.0")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def runner(db: Database, channel: Channel, clock: Clock, owner: str) -> StepRunner:
    source = DrillStepSource(StepPolicy(lease=LEASE))
    return StepRunner(db, source, channel.deliver, owner=owner, clock=clock)


def test_a_scenario_plays_on_its_clock_and_each_step_once_across_a_restart(db: Database) -> None:
    incident_id = declare_drill(db)
    offsets = [s.at for s in scenarios.builtin()["database-failover"].steps]
    channel, clock = Channel(), Clock(T0)
    first = runner(db, channel, clock, "replica-a")
    first.tick()
    assert [p.kind for p in channel.posted] == [scenarios.Kind.ALERT]  # the step at 0m
    clock.now = T0 + offsets[1] - timedelta(seconds=1)
    first.tick()
    assert len(channel.posted) == 1  # not before its time
    clock.now = T0 + offsets[2]
    first.tick()
    assert len(channel.posted) == 3
    # The bot stops; a new process (another replica id) starts 20 minutes in: what fell due
    # while it was down plays once, in order, and nothing plays twice.
    clock.now = at(20)
    second = runner(db, channel, clock, "replica-b")
    second.tick()
    second.tick()
    keys = [p.key for p in channel.posted]
    assert keys == [f"drill-{incident_id}-{n}" for n in range(len(offsets))]
    with db.read() as session:
        steps = session.exec(select(DrillStep).order_by(col(DrillStep.position))).all()
    assert all(s.played_at is not None and s.due_at is None for s in steps)


def test_a_step_posted_by_a_replica_that_died_before_recording_it_is_not_posted_again(
    db: Database,
) -> None:
    declare_drill(db)
    channel, clock = Channel(), Clock(T0)
    source = DrillStepSource(StepPolicy(lease=LEASE))
    from bot.core import delivery

    with db.session() as session:
        [claimed] = delivery.claim(session, source, owner="dead", now=T0)
    with db.session() as session:
        job = delivery.prepare(session, source, claimed, owner="dead", now=T0)
    assert job is not None
    channel.deliver(job, clock, lambda: True)  # it went out; the process was killed here
    clock.now = T0 + LEASE + timedelta(seconds=1)
    outcome = runner(db, channel, clock, "alive").tick()
    assert outcome == {"found": 1}
    assert len(channel.posted) == 1


def test_a_step_waits_for_the_channel_and_an_ended_drill_plays_nothing_more(db: Database) -> None:
    incident_id = declare_drill(db, channel=False)
    channel, clock = Channel(), Clock(T0)
    play = runner(db, channel, clock, "replica-a")
    assert play.tick() == {} and channel.posted == []  # not claimed before the channel exists
    with db.session() as session:
        session.get(Incident, incident_id).channel_id = "C0DRILL01"  # type: ignore[union-attr]
    clock.now = at(1.5)
    play.tick()
    assert len(channel.posted) == 2
    with db.session() as session:
        incident = incidents.get(session, incident_id=incident_id)
        event = drills.end(session, incident=incident, actor=ALICE, now=at(3))
    assert event.resolution == drills.ENDED
    clock.now = at(60)
    assert play.tick() == {} and len(channel.posted) == 2
    with db.read() as session:
        assert incidents.get(session, incident_id=incident_id).status == Status.RESOLVED.value


def test_the_command_s_drill_has_no_manager_until_the_team_names_one(db: Database) -> None:
    incident_id = declare_drill(db, name=None)
    with db.session() as session:
        view = incidents.view(session, incident_id=incident_id)
        assert view.manager is None and view.incident.acknowledged_at is None
        assert view.incident.is_drill
        assert session.exec(select(DrillStep)).all() == []  # no scenario: no steps
    real = declare_real(db)
    with db.session() as session, pytest.raises(InvalidInput, match="is a real incident"):
        drills.end(session, incident=incidents.get(session, incident_id=real), actor=ALICE)


# -- isolation -------------------------------------------------------------------------------

PAGE = load_text(
    "name: Acme Status\nurl: https://status.acme.example\ncomponents:\n  - name: API\n",
    path="status.yml",
)


def test_a_drill_is_never_published_and_never_on_the_public_page(db: Database) -> None:
    incident_id = declare_drill(db)
    with db.session() as session:
        incident = incidents.get(session, incident_id=incident_id)
        with pytest.raises(InvalidInput, match="Drill incidents are never published"):
            publish.publish(
                session, config=PAGE, incident=incident,
                publication=publish.Publication(message="We are looking into it"), actor=ALICE,
            )  # fmt: skip
        assert drills.record_statuspage(session, incident=incident, message="Looking", now=at(4))
        assert not drills.record_statuspage(session, incident=incident, message="Again")
        assert session.exec(select(StatusIncident)).all() == []
    # Even a public row made for it before it became a drill is never served.
    real = declare_real(db)
    with db.session() as session:
        publish.publish(
            session, config=PAGE, incident=incidents.get(session, incident_id=real),
            publication=publish.Publication(message="Looking into it"), actor=ALICE,
        )  # fmt: skip
    with db.read() as session:
        assert [i.name for i in snapshot.load(session, config=PAGE).incidents] == ["Real outage"]
    with db.session() as session:
        incidents.get(session, incident_id=real).is_drill = True
    with db.read() as session:
        assert snapshot.load(session, config=PAGE).incidents == ()


GROUPS = """
groups:
  - name: Management
    quadrant: keep_satisfied
    members:
      - {slack: U0CTO0001, email: cto@acme.example}
  - name: Customers
    quadrant: keep_informed
    members:
      - email: ops@customer.example
"""


@pytest.fixture
def notice_policy(tmp_path: Path) -> NoticePolicy:
    path = tmp_path / "stakeholders.yml"
    path.write_text(GROUPS)
    hook = Webhook("https://hooks.example/a", "0123456789abcdef", config.EVENT_TRIGGERS)
    return NoticePolicy(directory=config.load(path), webhooks=(hook,), mastodon=True)


def _notices(session: Session, incident_id: int) -> list[StakeholderNotice]:
    query = select(StakeholderNotice).where(StakeholderNotice.incident_id == incident_id)
    return list(session.exec(query).all())


def test_a_drill_tells_no_real_group_and_no_webhook_unless_its_declarer_confirms(
    db: Database, notice_policy: NoticePolicy
) -> None:
    with db.session() as session:
        incident, event = incidents.declare(
            session, title="Practice", severity="sev1", declared_by=ALICE, manager=BOB,
            declare_key=uuid.uuid4().hex, drill=True, now=T0,
        )  # fmt: skip
        drills.start(session, incident=incident, actor=ALICE, now=T0)
        assert event is not None
        plan_event(session, event, policy=notice_policy, now=T0)
        assert incident.id is not None
        incident_id = incident.id
        rows = _notices(session, incident_id)
    assert rows and all(n.state == planning.HELD and n.due_at is None for n in rows)
    assert not any(n.channel in (planning.WEBHOOK, planning.MASTODON) for n in rows)
    management = notice_policy.directory.group("Management")
    for who in (BOB, CAROL):  # its manager and a bystander may not reach real people
        with db.session() as session, pytest.raises(actions.NotAllowed, match="drill"):
            actions.notify(
                session, incident_id=incident_id, groups=[management], message="",
                actor=who, policy=notice_policy, now=at(1),
            )  # fmt: skip
    with db.session() as session:
        sent = actions.notify(
            session, incident_id=incident_id, groups=[management], message="",
            actor=ALICE, policy=notice_policy, now=at(1),
        )  # fmt: skip
        assert sent.notices == 2  # what waited for Management; Customers still wait
        states = {(n.group_name, n.state) for n in _notices(session, incident_id)}
    assert states == {("Management", planning.PENDING), ("Customers", planning.HELD)}


RULES = """\
policies:
  checkout:
    levels:
      - users: [U0ONCALL1]
      - users: [U0LEAD001]
        after: 10m
rules:
  - name: checkout
    match: {labels: {service: checkout}}
    policy: checkout
"""


def test_an_alert_group_of_a_drill_pages_nobody(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(RULES)
    rules = load_rules(str(path))
    drill, real = declare_drill(db), declare_real(db)
    groups = []
    for incident_id in (drill, real):
        batch = parse_prometheus(payload("alertmanager_firing"))
        alerts = tuple(
            dataclasses.replace(a, fingerprint=f"{a.fingerprint}-{incident_id}")
            for a in batch.alerts
        )  # a group of its own for each incident
        batch = dataclasses.replace(
            batch, group_key=f"{batch.group_key}-{incident_id}", alerts=alerts, delivery_id=None
        )
        [group_id] = store(db, batch, rules=rules, now=T0).opened
        with db.session() as session:  # linked by hand, not acknowledged: still escalating
            group = session.get(AlertGroup, group_id)
            assert group is not None and group.escalation_due_at is not None
            group.incident_id = incident_id
            session.add(group)
        groups.append(group_id)
    with db.session() as session:
        due = triage.claim_due_levels(session, rules=rules, now=at(15))
    assert {d.group_id for d in due} == {groups[1]}  # only the real incident's group


def test_drills_are_left_out_of_every_figure_and_the_export(db: Database) -> None:
    real = declare_real(db, now=at(0))
    drill = declare_drill(db, now=at(1))
    with db.session() as session:
        for incident_id in (real, drill):
            incident = incidents.get(session, incident_id=incident_id)
            incidents.resolve(session, incident=incident, actor=ALICE, resolution="ok", now=at(30))
    declare_drill(db, name=None, now=at(2))  # an open drill: not "open now" either
    with db.read() as session:
        found = figures.compute(session, since=at(-60), until=at(60))
        rows = list(figures.incident_rows(session, since=at(-60), until=at(60), member_channels=()))
    assert found.total == 1 and found.open_now == 0
    assert [r.incident.id for r in rows] == [real]


# -- the score -------------------------------------------------------------------------------


def test_the_score_times_the_process_from_the_facts(db: Database) -> None:
    incident_id = declare_drill(db, name="bad-deploy")
    with db.session() as session:
        incident = incidents.get(session, incident_id=incident_id)
        incidents.assign_role(
            session, incident=incident, role=Role.INCIDENT_MANAGER, user_id=BOB, actor=BOB,
            now=at(2),
        )  # fmt: skip
        incidents.post_update(session, incident=incident, author=BOB, message="Rolling back",
                              now=at(5))  # fmt: skip
        drills.record_statuspage(session, incident=incident, message="Sign-in issues", now=at(7))
        incidents.post_update(session, incident=incident, author=BOB, message="Fixed", now=at(50))
        drills.end(session, incident=incident, actor=BOB, now=at(55))
    with db.read() as session:
        score = drills.score(session, incident_id=incident_id, interval=timedelta(minutes=30))
    assert (score.acknowledge, score.manager, score.first_update, score.statuspage) == (
        120.0, 120.0, 300.0, 420.0,
    )  # fmt: skip
    # start -> 5m -> 50m -> 55m: the 45-minute gap missed the 30-minute cadence
    assert (score.updates, score.on_cadence, score.gaps) == (2, 2, 3)
    assert score.postmortem is False and score.duration == 55 * 60.0
    assert score.scenario == "bad-deploy"
    plain = declare_drill(db, name=None)
    with db.read() as session:
        nothing = drills.score(session, incident_id=plain, interval=None)
    assert (nothing.acknowledge, nothing.manager, nothing.first_update) == (None, None, None)
    assert nothing.on_cadence == nothing.gaps == 1  # no cadence set: nothing to miss
