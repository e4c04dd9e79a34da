"""The customer-facing draft lists e-mail addresses, internal hosts and IP addresses to review.

They are kept in the text (a person decides) and listed under "Review before publishing" at
the top of the draft; a draft with none of them has no such note.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot import postmortems
from bot.postmortems import docs, review
from bot.postmortems.review import BARE_HOST, EMAIL, INTERNAL_HOST, PRIVATE_IP, PUBLIC_IP
from storage import Database
from tests.bot.test_postmortems import POLICY, T0, minutes, run_incident


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("write to ops@acme.com today", [("ops@acme.com", EMAIL)]),
        ("mail bob.smith+oncall@db.internal.", [("bob.smith+oncall@db.internal", EMAIL)]),
        ("the primary db-1.prod.internal failed", [("db-1.prod.internal", INTERNAL_HOST)]),
        (
            "cache.local, vpn.CORP and nas.home.arpa",
            [
                ("cache.local", INTERNAL_HOST),
                ("vpn.CORP", INTERNAL_HOST),
                ("nas.home.arpa", INTERNAL_HOST),
            ],
        ),
        (
            "see http://grafana/d/abc and https://localhost:3000/x",
            [
                ("grafana", BARE_HOST),
                ("localhost", BARE_HOST),
            ],
        ),
        (
            "10.0.3.7, 172.16.0.1:5432 and 192.168.1.20",
            [
                ("10.0.3.7", PRIVATE_IP),
                ("172.16.0.1", PRIVATE_IP),
                ("192.168.1.20", PRIVATE_IP),
            ],
        ),
        (
            "from 203.0.113.9 (documentation) and 8.8.8.8",
            [
                ("203.0.113.9", PRIVATE_IP),
                ("8.8.8.8", PUBLIC_IP),
            ],
        ),
        ("http://10.1.2.3/admin", [("10.1.2.3", PRIVATE_IP)]),
        (
            "fe80::1 and 2a00:1450:4001:82a::200e",
            [
                ("fe80::1", PRIVATE_IP),
                ("2a00:1450:4001:82a::200e", PUBLIC_IP),
            ],
        ),
        # Nothing to review: public names, times, version-like numbers with fewer parts.
        ("https://status.acme.com at 12:30:45 on version 1.2.3 for acme.com", []),
    ],
)
def test_scan_finds_what_a_person_should_check(text: str, found: list[tuple[str, str]]) -> None:
    assert review.scan(text) == found


def test_the_customer_draft_lists_them_and_keeps_the_text() -> None:
    facts = docs.sample_facts()
    facts = replace(
        facts,
        impact=docs.Section("impact", "Checkout at db-1.internal (10.0.3.7) failed.", ""),
        root_cause=docs.Section("root_cause", "Alerts went to ops@acme.com only.", ""),
        action_items=[docs.ActionFact(1, "Alert on 10.0.3.7 too", "Bob", None, "open")],
    )
    draft = docs.render_customer(facts)
    head, _, body = draft.partition("## What happened")
    assert "> **Review before publishing:**" in head
    assert '> - `db-1.internal`: internal host name, in "What happened"' in head
    assert '> - `10.0.3.7`: IP address in a private range, in "What happened"' in head
    assert '> - `ops@acme.com`: e-mail address, in "What went wrong and why"' in head
    assert head.count("10.0.3.7") == 1  # listed once, where it first appears
    assert "Checkout at db-1.internal (10.0.3.7) failed." in body  # kept, not dropped
    assert "Alert on 10.0.3.7 too" in body
    assert "Review before publishing" not in docs.render_customer(docs.sample_facts())


def test_a_resolved_incident_gets_a_draft_with_its_review_list(db: Database) -> None:
    incident_id = run_incident(db)
    with db.session() as session:
        postmortems.edit(
            session,
            incident_id=incident_id,
            changes=postmortems.Edit(
                summary="",
                impact="Requests to api.corp and http://billing/ failed",
                root_cause="",
                resolution="",
                owner=None,
                due_on=None,
            ),
            actor="U0BOB0001",
            policy=POLICY,
            now=T0 + minutes(50),
        )
        pm = postmortems.render(session, incident_id=incident_id, now=T0 + minutes(51))
    assert '> - `api.corp`: internal host name, in "What happened"' in pm.customer
    assert '> - `billing`: host name without a domain, in "What happened"' in pm.customer
    assert "Requests to api.corp and http://billing/ failed" in pm.customer
    assert "api.corp" in pm.document  # the internal document is not touched
