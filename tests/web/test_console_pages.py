"""The console's incident library: list, filters, search, one incident, post-mortems, privacy."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from bot import action_items, incidents, postmortems
from bot import timeline as tl
from bot.action_items import Via
from bot.core.vocabulary import Status
from bot.followups.policy import FollowUpPolicy
from playground.emulator import SlackEmulator
from storage.models import Incident
from tests.conftest import Workspace
from tests.console import Browser, sign_in, start_console_bot
from tests.harness import RunningBot

pytestmark = pytest.mark.scenario

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday
POLICY = FollowUpPolicy()


def _declare(bot: RunningBot, n: int, title: str, severity: str, user: str, **kw: object) -> int:
    with bot.runtime.services.db.session() as session:
        incident, _ = incidents.declare(
            session,
            title=title,
            severity=severity,
            declared_by=user,
            declare_key=f"seed-{n}",
            now=T0 + timedelta(days=n),
            **kw,  # type: ignore[arg-type]
        )
        assert incident.id is not None
        return incident.id


@pytest.fixture
def history(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace
) -> RunningBot:
    """#1 public sev2 resolved with a post-mortem (two versions) and an action item; #2 a
    private sev1 whose channel only Alice is in; #3 a public sev3 still open."""
    bot = start_console_bot(start_bot, slack)
    secret = slack.add_channel("inc-2-secret", private=True, members=[workspace.alice])
    first = _declare(bot, 1, "Checkout errors", "sev2", workspace.alice, summary="500s on pay")
    second = _declare(bot, 2, "Vault sealed zebra", "sev1", workspace.alice, private=True)
    _declare(bot, 3, "Search is slow", "sev3", workspace.bob)
    db = bot.runtime.services.db
    with db.session() as session:
        inc1 = incidents.get(session, incident_id=first)
        at = T0 + timedelta(days=1)
        incidents.post_update(
            session,
            incident=inc1,
            author=workspace.alice,
            message="Rolled back the flamingo release",
            status=Status.IDENTIFIED,
            now=at + timedelta(minutes=20),
        )
        tl.add_note(
            session,
            incident=inc1,
            author=workspace.bob,
            author_name="Bob Baker",
            text="Pager went off for the <script>alert(1)</script> gateway",
            now=at + timedelta(minutes=5),
        )
        incidents.resolve(
            session,
            incident=inc1,
            actor=workspace.alice,
            resolution="",
            now=at + timedelta(hours=2),
        )
        action_items.create(
            session,
            incident_id=first,
            text="Add a canary for payments",
            owner=workspace.bob,
            created_by=workspace.alice,
            via=Via.COMMAND,
            policy=POLICY,
            now=at,
        )
        postmortems.on_resolved(session, incident_id=first, policy=POLICY, actor=workspace.alice)
        postmortems.render(session, incident_id=first, now=at + timedelta(hours=3))
        postmortems.edit(
            session,
            incident_id=first,
            changes=postmortems.Edit(
                summary="Payments failed; the walrus config was wrong.",
                impact="",
                root_cause="A bad config <b>push</b>",
                resolution="",
                owner=None,
                due_on=None,
            ),
            actor=workspace.alice,
            policy=POLICY,
            now=at + timedelta(hours=4),
        )
        postmortems.render(session, incident_id=first, now=at + timedelta(hours=4))
        inc2 = incidents.get(session, incident_id=second)
        inc2.channel_id, inc2.channel_name = secret, "inc-2-secret"
        session.add(inc2)
        incidents.post_update(
            session, incident=inc2, author=workspace.alice, message="Unsealing the vault"
        )
        action_items.create(
            session,
            incident_id=second,
            text="Rotate the zebra keys",
            owner=workspace.alice,
            created_by=workspace.alice,
            via=Via.COMMAND,
            policy=POLICY,
            now=T0,
        )
        incidents.resolve(session, incident=inc2, actor=workspace.alice, resolution="")
        postmortems.on_resolved(session, incident_id=second, policy=POLICY, actor=workspace.alice)
        postmortems.render(session, incident_id=second)
    return bot


def _get(browser: Browser, bot: RunningBot, path: str, status: int = 200) -> str:
    answer = browser.get(bot.base_url + path)
    assert answer.status_code == status, (path, answer.status_code, answer.text[:500])
    return answer.text


def _numbers(page: str) -> list[str]:
    import re

    return re.findall(r'<a href="/console/incidents/(\d+)">', page)


def test_list_filters_and_search(
    history: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    alice = sign_in(history, slack, workspace.alice)
    assert _numbers(_get(alice, history, "/console/incidents")) == ["3", "2", "1"]
    assert _numbers(_get(alice, history, "/console/incidents?status=open")) == ["3"]
    assert _numbers(_get(alice, history, "/console/incidents?status=resolved")) == ["2", "1"]
    assert _numbers(_get(alice, history, "/console/incidents?severity=sev2")) == ["1"]
    since = (T0 + timedelta(days=2)).date().isoformat()
    assert _numbers(_get(alice, history, f"/console/incidents?since={since}")) == ["3", "2"]
    until = (T0 + timedelta(days=2)).date().isoformat()
    assert _numbers(_get(alice, history, f"/console/incidents?until={until}")) == ["2", "1"]
    # Text search: title, summary, an update, the timeline, the post-mortem; any case.
    for word, expected in [
        ("checkout", ["1"]),
        ("500S ON PAY", ["1"]),
        ("flamingo", ["1"]),
        ("gateway", ["1"]),
        ("walrus", ["1"]),
        ("slow", ["3"]),
        ("nothing-like-this", []),
        ("100%", []),
    ]:
        assert _numbers(_get(alice, history, f"/console/incidents?q={word}")) == expected, word
    bad = _get(alice, history, "/console/incidents?severity=sev9&since=yesterday", status=400)
    assert "Unknown severity `sev9`" in bad and "`yesterday` is not a date" in bad


def test_one_incident_with_postmortem_versions_and_downloads(
    history: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    alice = sign_in(history, slack, workspace.alice)
    page = _get(alice, history, "/console/incidents/1")
    assert "#1 Checkout errors" in page
    for text in ("Acknowledged", "Identified", "20m", "Resolved", "2h", "Incident manager"):
        assert text in page, text
    assert "Rolled back the flamingo release" in page and "Add a canary for payments" in page
    # People's text is escaped, on the page and in the rendered post-mortem.
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>push</b>" not in page and "config bpush/b" in page  # Slack markup dropped
    assert "<h1>" in page or "<h2>" in page  # Markdown rendered as HTML
    assert "walrus config" in page and "Version 2" in page
    assert '?version=1#postmortem">Version 1</a>' in page
    older = _get(alice, history, "/console/incidents/1?version=1")
    assert "walrus config" not in older.split('id="postmortem"')[1]
    assert "an earlier version" in older
    md = alice.get(history.base_url + "/console/incidents/1/postmortem.md")
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert 'filename="incident-1-postmortem-v2.md"' in md.headers["content-disposition"]
    assert "walrus config" in md.text and md.text.lstrip().startswith("#")
    html = alice.get(history.base_url + "/console/incidents/1/postmortem.html?version=1")
    assert html.status_code == 200 and html.text.startswith("<!doctype html>")
    assert 'filename="incident-1-postmortem-v1.html"' in html.headers["content-disposition"]
    _get(alice, history, "/console/incidents/1?version=9", status=404)
    _get(alice, history, "/console/incidents/99", status=404)
    _get(alice, history, "/console/incidents/1/postmortem.pdf", status=404)


def test_postmortem_library_overdue_first(
    history: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    alice = sign_in(history, slack, workspace.alice)
    page = _get(alice, history, "/console/postmortems")
    # #1's post-mortem was due in March 2025: overdue, listed before #2's (due later).
    assert page.index("#1 Checkout errors") < page.index("#2 Vault sealed zebra")
    assert "Overdue" in page and "Bob Baker" in page
    assert "Add a canary for payments" in page and "Rotate the zebra keys" in page
    with history.runtime.services.db.session() as session:
        item = action_items.of_incident(session, incident_id=1)[0]
        action_items.complete(session, item_id=item.id or 0, actor=workspace.bob, policy=POLICY)
    done = _get(alice, history, "/console/postmortems?items=done")
    assert "Add a canary for payments" in done.split('id="action-items"')[1]
    assert "Rotate the zebra keys" not in done.split('id="action-items"')[1]


def test_private_incident_only_for_its_channel_members(
    history: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    alice = sign_in(history, slack, workspace.alice)
    bob = sign_in(history, slack, workspace.bob)
    assert "Vault sealed zebra" in _get(alice, history, "/console/incidents")
    assert "Unsealing the vault" in _get(alice, history, "/console/incidents/2")
    with history.runtime.services.db.read() as session:
        assert session.get(Incident, 2) is not None and session.get(Incident, 2).private  # type: ignore[union-attr]
    for path, status in [
        ("/console/incidents", 200),
        ("/console/incidents?q=zebra", 200),
        ("/console/incidents?q=vault", 200),
        ("/console/incidents?severity=sev1", 200),
        ("/console/incidents?status=resolved", 200),
        ("/console/incidents/2", 404),
        ("/console/incidents/2?version=1", 404),
        ("/console/incidents/2/postmortem.md", 404),
        ("/console/incidents/2/postmortem.html", 404),
        ("/console/postmortems", 200),
        ("/console/postmortems?items=all", 200),
    ]:
        page = _get(bob, history, path, status=status)
        for secret in ("Vault sealed", "Unsealing", "Rotate the zebra", "/console/incidents/2"):
            assert secret not in page, (path, secret)
    # Bob joins the channel: once the short membership cache expires, he sees it.
    slack.add_members("inc-2-secret", workspace.bob)
    history.runtime.services.members.forget()
    assert "Vault sealed zebra" in _get(bob, history, "/console/incidents?q=zebra")
    assert date.today()  # the library never needs the client's clock


def test_filter_by_tag_and_component(
    history: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    from bot.library import tags
    from storage.models_statuspage import StatusComponent, StatusIncident

    db = history.runtime.services.db
    with db.session() as session:
        ids = {i.number: i.id or 0 for i in session.exec(select(Incident)).all()}
        tags.add(session, incident_id=ids[1], tags=["payments", "db"], actor="U1", now=T0)
        tags.add(session, incident_id=ids[2], tags=["vault"], actor="U1", now=T0)
        session.add(StatusComponent(id="checkout", name="Checkout <API>", position=1))
        session.add(
            StatusIncident(
                public_id="pub1",
                incident_id=ids[1],
                name="Checkout",
                status="resolved",
                component_ids="checkout",
            )
        )
    bob = sign_in(history, slack, workspace.bob)  # not in #2's private channel
    page = _get(bob, history, "/console/incidents")
    assert '<a class="tag" href="/console/incidents?tag=payments">payments</a>' in page
    assert '<option value="vault"' not in page  # a private incident's tag stays private
    assert "Checkout &lt;API&gt;" in page and "Checkout <API>" not in page  # escaped
    assert _numbers(_get(bob, history, "/console/incidents?tag=db")) == ["1"]
    assert _numbers(_get(bob, history, "/console/incidents?component=checkout")) == ["1"]
    assert _numbers(_get(bob, history, "/console/incidents?tag=vault")) == []
    alice = sign_in(history, slack, workspace.alice)
    assert _numbers(_get(alice, history, "/console/incidents?tag=vault")) == ["2"]
    unknown = _get(bob, history, "/console/incidents?component=nope", status=400)
    assert "There is no component `nope`." in unknown
    assert "payments" in _get(bob, history, "/console/postmortems")


def test_incident_page_shows_when_its_first_alert_started(
    history: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    db = history.runtime.services.db
    with db.session() as session:
        incident = session.exec(select(Incident).where(Incident.number == 1)).one()
        incident.detected_at = incident.declared_at - timedelta(minutes=7)
        session.add(incident)
    page = _get(sign_in(history, slack, workspace.bob), history, "/console/incidents/1")
    assert "<td>Detected (first alert)</td>" in page and "7m before" in page
