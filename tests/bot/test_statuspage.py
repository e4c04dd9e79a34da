"""The status page's domain: configuration, publishing, privacy, maintenance, uptime, mail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot import incidents
from bot.core.errors import ConfigError, InvalidInput
from bot.settings import load_settings
from bot.statuspage import components, maintenance, publish, snapshot, state, subscriptions
from bot.statuspage.config import PageConfig, StatusPageConfigError, load_text
from bot.statuspage.vocabulary import ComponentStatus, split_status_suffix
from storage import Database
from storage.models import Incident
from storage.models_statuspage import StatusMail, StatusSubscriber

YAML = """name: Acme Status
url: https://status.acme.example/
components:
  - name: API
  - name: Website
    description: www and the dashboard
  - name: Card payments
    group: Payments
  - name: Payouts
    group: Payments
"""
T0 = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def config() -> PageConfig:
    return load_text(YAML, path="status.yml", timezone="Europe/Paris")


@pytest.fixture
def page(db: Database, config: PageConfig) -> Database:
    with db.session() as session:
        components.sync(session, config, now=T0 - timedelta(days=100))
    return db


def _declare(
    db: Database, *, private: bool = False, key: str = "k1", at: datetime = T0
) -> Incident:
    with db.session() as session:
        incident, _ = incidents.declare(
            session,
            title="Checkout <script>alert(1)</script> fails",
            severity="sev1",
            declared_by="U0ALICE",
            declare_key=key,
            summary="internal: the primary DB in eu-west-1 is down",
            private=private,
            now=at,
        )
    return incident


def _publish(
    db: Database, config: PageConfig, incident: Incident, message: str, **kw: object
) -> None:
    pub = publish.validate(
        config,
        message=message,
        component_ids=kw.get("component_ids"),  # type: ignore[arg-type]
        component_status=kw.get("component_status"),  # type: ignore[arg-type]
    )
    assert pub is not None
    with db.session() as session:
        publish.publish(
            session,
            config=config,
            incident=session.get(Incident, incident.id),  # type: ignore[arg-type]
            publication=pub,
            actor="U0ALICE",
            now=kw.get("now", T0),  # type: ignore[arg-type]
        )


# -- configuration -------------------------------------------------------------------------


def test_config_reads_components_groups_and_stable_ids(config: PageConfig) -> None:
    assert config.name == "Acme Status" and config.url == "https://status.acme.example"
    assert [c.name for c in config.components] == ["API", "Website", "Card payments", "Payouts"]
    [group] = config.groups
    assert group.name == "Payments" and len(group.component_ids) == 2
    again = load_text(YAML, path="status.yml")
    assert [c.id for c in again.components] == [c.id for c in config.components]
    assert all(len(c.id) == 12 for c in config.components)
    assert config.find("card PAYMENTS") is config.components[2]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: A\nurl: https://x.example\n", "status.yml:1: missing 'components'"),
        ("name: A\nurl: ftp://x\ncomponents:\n  - name: API\n", "status.yml:2: url 'ftp://x'"),
        (
            "name: A\nurl: https://x.example\ncomponents:\n  - name: API\n  - name: api\n",
            "status.yml:5: component 'api' is named twice (first on line 4)",
        ),
        (
            "name: A\nurl: https://x.example\ncomponents:\n  - name: API\n    colour: red\n",
            "status.yml:5: unknown key 'colour'",
        ),
        ("name: A\nurl: https://x.example\ncomponents: [\n", "status.yml:4: not valid YAML"),
        ("name: A\nurl: https://x.example\ncomponents: []\n", "status.yml:3: components must"),
    ],
)
def test_config_errors_name_the_line_and_the_reason(text: str, expected: str) -> None:
    with pytest.raises(StatusPageConfigError) as error:
        load_text(text, path="status.yml")
    assert str(error.value).startswith(expected), str(error.value)


def test_a_bad_file_stops_start_up_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "status.yml"
    bad.write_text("name: A\nurl: https://x.example\ncomponents:\n  - description: no name\n")
    with pytest.raises(ConfigError) as error:
        load_settings(env_file=None, status_page_file=str(bad))
    assert "STATUS_PAGE_FILE" in str(error.value) and f"{bad}:4: a component needs a name" in str(
        error.value
    )
    with pytest.raises(ConfigError, match="STATUS_PAGE_TIMEZONE"):
        load_settings(env_file=None, status_page_timezone="Mars/Olympus")
    good = tmp_path / "good.yml"
    good.write_text(YAML)
    settings = load_settings(env_file=None, status_page_file=str(good))
    assert settings.status_page is not None and settings.status_page.name == "Acme Status"
    assert load_settings(env_file=None).status_page is None


def test_component_status_words() -> None:
    assert split_status_suffix("Card payments partial outage") == (
        "Card payments",
        ComponentStatus.PARTIAL_OUTAGE,
    )
    assert split_status_suffix("API major_outage") == ("API", ComponentStatus.MAJOR_OUTAGE)
    with pytest.raises(InvalidInput, match="Valid statuses"):
        split_status_suffix("API broken")


# -- publishing ------------------------------------------------------------------------------


def test_publish_then_update_then_resolve(page: Database, config: PageConfig) -> None:
    incident = _declare(page)
    api = config.components[0].id
    _publish(
        page,
        config,
        incident,
        "We are looking into errors.",
        component_ids=[api],
        component_status="major_outage",
    )
    _publish(
        page,
        config,
        incident,
        "Fix deployed.",
        component_ids=[api],
        component_status="degraded_performance",
        now=T0 + timedelta(minutes=30),
    )
    with page.session() as session:
        inc = session.get(Incident, incident.id)
        assert inc is not None
        incidents.resolve(session, incident=inc, actor="U0ALICE", resolution="internal detail")
        publish.resolve(
            session,
            incident=inc,
            actor="U0ALICE",
            message="All good now.",
            now=T0 + timedelta(hours=1),
        )
    with page.read() as session:
        snap = snapshot.load(session, config=config, now=T0 + timedelta(hours=2))
    [public] = snap.incidents
    assert public.name == incident.title and public.status == "resolved"
    assert public.impact == "critical"
    assert [u.body for u in public.updates] == [
        "All good now.",
        "Fix deployed.",
        "We are looking into errors.",
    ]
    assert public.updates[0].affected == (
        {
            "code": api,
            "name": "API",
            "old_status": "degraded_performance",
            "new_status": "operational",
        },
    )
    assert snap.component(api).status is ComponentStatus.OPERATIONAL  # type: ignore[union-attr]
    assert snap.indicator.value == "none" and snap.description == "All Systems Operational"


def test_private_incidents_are_never_published(page: Database, config: PageConfig) -> None:
    incident = _declare(page, private=True)
    with pytest.raises(InvalidInput, match="Private incidents are never published"):
        publish.validate(
            config, message="hello", component_ids=None, component_status=None, private=True
        )
    pub = publish.Publication(message="Leaked?")
    with page.session() as session, pytest.raises(InvalidInput, match="never published"):
        publish.publish(
            session,
            config=config,
            incident=session.get(Incident, incident.id),  # type: ignore[arg-type]
            publication=pub,
            actor="U0ALICE",
        )
    with page.read() as session:
        assert snapshot.load(session, config=config).incidents == ()


def test_drill_incidents_are_never_published() -> None:
    drill = SimpleNamespace(private=False, is_drill=True)
    assert publish.never_public(drill) == (  # type: ignore[arg-type]
        "Drill incidents are never published on the status page."
    )


def test_an_incident_made_private_after_publishing_disappears(
    page: Database, config: PageConfig
) -> None:
    incident = _declare(page)
    _publish(page, config, incident, "Looking into it.")
    with page.session() as session:
        row = session.get(Incident, incident.id)
        assert row is not None
        row.private = True
        session.add(row)
    with page.read() as session:
        snap = snapshot.load(session, config=config)
        assert snap.incidents == ()
        [public_id] = [r for r in [publish.public_of(session, incident_id=incident.id or 0)] if r]
        assert snapshot.one(session, public_id=public_id.public_id) is None


def test_form_validation_names_the_fields(config: PageConfig) -> None:
    api = config.components[0].id
    with pytest.raises(InvalidInput) as error:
        publish.validate(config, message="", component_ids=[api], component_status=None)
    assert set(error.value.fields) == {publish.F_STATUS, publish.F_MESSAGE}
    with pytest.raises(InvalidInput) as error:
        publish.validate(config, message="x", component_ids=["nope"], component_status=None)
    assert publish.F_COMPONENTS in error.value.fields
    assert publish.validate(config, message=" ", component_ids=[], component_status=None) is None


def test_the_version_rises_with_each_change_and_listeners_hear_after_commit(
    page: Database, config: PageConfig
) -> None:
    heard: list[int] = []
    undo = state.on_change(lambda: heard.append(1))
    try:
        with page.read() as session:
            before, _ = state.version(session)
        incident = _declare(page)
        _publish(page, config, incident, "Hello")
        with page.read() as session:
            after, _ = state.version(session)
        assert after == before + 1 and heard == [1]
        with pytest.raises(RuntimeError), page.session() as session:
            state.changed(session)
            raise RuntimeError("rolled back")
        assert heard == [1]
    finally:
        undo()


# -- maintenance ---------------------------------------------------------------------------


def test_maintenance_moves_through_its_states_by_the_clock(
    page: Database, config: PageConfig
) -> None:
    web = config.components[1].id
    start, end = T0 + timedelta(hours=1), T0 + timedelta(hours=3)
    with page.session() as session:
        row = maintenance.schedule(
            session,
            config=config,
            title="Database upgrade",
            message="Short read-only window.",
            component_ids=[web],
            starts_at=start,
            ends_at=end,
            actor="U0ALICE",
            now=T0,
        )
        public_id = row.public_id
    clock = [T0 + timedelta(minutes=30)]

    def tick() -> str:
        with page.session() as session:
            maintenance.advance(session, now=clock[0])
        with page.read() as session:
            snap = snapshot.load(session, config=config, now=clock[0])
        [m] = [m for m in snap.maintenances if m.id == public_id]
        return f"{m.status}/{snap.component(web).status.value}/{snap.indicator.value}"  # type: ignore[union-attr]

    assert tick() == "scheduled/operational/none"
    with page.read() as session:
        assert maintenance.next_due(session) == start
    clock[0] = start
    assert tick() == "in_progress/under_maintenance/maintenance"
    clock[0] = end + timedelta(seconds=1)
    assert tick() == "completed/operational/none"
    with page.read() as session:
        [m] = [m for m in snapshot.load(session, config=config, now=clock[0]).maintenances]
        assert m.updates[0].body == maintenance.COMPLETED_MESSAGE
        assert maintenance.next_due(session) is None


def test_maintenance_form_errors(page: Database, config: PageConfig) -> None:
    with page.session() as session, pytest.raises(InvalidInput) as error:
        maintenance.schedule(
            session,
            config=config,
            title="",
            message="",
            component_ids=[],
            starts_at=T0,
            ends_at=T0 - timedelta(hours=1),
            actor="U",
            now=T0,
        )
    assert set(error.value.fields) == {publish.F_TITLE, publish.F_MESSAGE, maintenance.F_END}


# -- uptime ----------------------------------------------------------------------------------


def test_uptime_is_summed_per_day_with_partial_outages_weighted(
    page: Database, config: PageConfig
) -> None:
    api = config.components[0].id
    day = datetime(2025, 3, 5, 10, 0, tzinfo=UTC)
    with page.session() as session:
        components.set_status(
            session, component_id=api, status=ComponentStatus.MAJOR_OUTAGE, now=day
        )
        components.set_status(
            session,
            component_id=api,
            status=ComponentStatus.PARTIAL_OUTAGE,
            now=day + timedelta(hours=1),
        )
        components.set_status(
            session,
            component_id=api,
            status=ComponentStatus.OPERATIONAL,
            now=day + timedelta(hours=2),
        )
    with page.read() as session:
        snap = snapshot.load(session, config=config, now=T0)
    uptime = snap.component(api).uptime  # type: ignore[union-attr]
    assert uptime is not None and len(uptime.days) == 90
    [bad] = [d for d in uptime.days if d.worst is not ComponentStatus.OPERATIONAL]
    assert str(bad.day) == "2025-03-05" and bad.worst is ComponentStatus.MAJOR_OUTAGE
    assert bad.seconds[ComponentStatus.MAJOR_OUTAGE] == 3600
    assert bad.seconds[ComponentStatus.PARTIAL_OUTAGE] == 3600
    assert bad.downtime == pytest.approx(3600 + 0.3 * 3600)
    assert bad.uptime == pytest.approx(100 * (1 - 4680 / 86400))
    assert uptime.uptime is not None and 99.9 < uptime.uptime < 100


# -- subscribers -------------------------------------------------------------------------------


def test_double_opt_in_and_one_mail_per_subscriber_and_update(
    page: Database, config: PageConfig
) -> None:
    api, web = config.components[0].id, config.components[1].id
    with page.session() as session:
        assert subscriptions.subscribe(
            session, config=config, email="Ann@Example.COM", component_ids=[], now=T0
        )
        assert subscriptions.subscribe(
            session, config=config, email="web@example.com", component_ids=[web], now=T0
        )
        assert subscriptions.subscribe(
            session, config=config, email="pending@example.com", component_ids=[], now=T0
        )
        # Asking again at once queues no second confirmation.
        assert not subscriptions.subscribe(
            session, config=config, email="ann@example.com", component_ids=[], now=T0
        )
        with pytest.raises(InvalidInput):
            subscriptions.subscribe(
                session, config=config, email="not an address", component_ids=[], now=T0
            )
    with page.session() as session:
        for email in ("ann@example.com", "web@example.com"):
            token = session.exec(
                select(StatusSubscriber.token).where(StatusSubscriber.email == email)
            ).one()
            subscriptions.confirm(session, token=token, now=T0)
    incident = _declare(page)
    _publish(
        page, config, incident, "API errors", component_ids=[api], component_status="major_outage"
    )
    with page.read() as session:
        mails = session.exec(select(StatusMail).where(StatusMail.kind == "update")).all()
        emails = {session.get(StatusSubscriber, m.subscriber_id).email for m in mails}  # type: ignore[union-attr]
    assert emails == {"ann@example.com"}  # web@ chose Website only; pending@ never confirmed
    with pytest.raises(IntegrityError), page.session() as session:
        session.add(
            StatusMail(
                subscriber_id=mails[0].subscriber_id, update_id=mails[0].update_id, kind="update"
            )
        )
        session.flush()
