"""Reminder messages: words, buttons, the key that finds a post again, the snoozed form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from blocks.reminders import key_of, reminder_blocks, reminder_text, snoozed_blocks
from bot.core.vocabulary import Severity
from bot.reminders.claims import Outgoing
from bot.reminders.policy import Kind

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def outgoing(kind: Kind = Kind.UPDATE, manager: str | None = "U0BOB") -> Outgoing:
    return Outgoing(
        reminder_id=1,
        kind=kind,
        key="0123abcd",
        due_at=NOW,
        incident_id=7,
        number=12,
        title="Checkout is down",
        severity=Severity.SEV2,
        channel_id="C0INC",
        manager=manager,
        since=NOW - timedelta(minutes=32),
        nudge_number=2,
        check_first=False,
        pending_since=NOW,
    )


def test_an_update_reminder_mentions_the_manager_or_else_the_channel() -> None:
    text = reminder_text(outgoing(), now=NOW)
    assert text.startswith(":alarm_clock: <@U0BOB> no status update on *#12 Checkout is down*")
    assert "(SEV2) for *32m*" in text
    assert "<!channel>" in reminder_text(outgoing(manager=None), now=NOW)


def test_the_key_is_found_again_in_the_posted_message() -> None:
    message = {"blocks": [b.to_dict() for b in reminder_blocks(outgoing(), now=NOW)]}
    assert key_of(message) == "0123abcd"
    assert key_of({"blocks": [{"type": "section", "block_id": "other"}]}) is None
    assert key_of({"text": "no blocks"}) is None


def test_a_nudge_offers_the_role_and_counts() -> None:
    blocks = [b.to_dict() for b in reminder_blocks(outgoing(Kind.NO_MANAGER), now=NOW, nudge_max=3)]
    assert [e["action_id"] for e in blocks[1]["elements"]] == ["incident_assign_role"]
    assert blocks[2]["elements"][0]["text"] == "Nudge 2 of 3."


def test_the_snoozed_form_keeps_the_words_and_post_update_only() -> None:
    message = {"blocks": [b.to_dict() for b in reminder_blocks(outgoing(), now=NOW)]}
    after = snoozed_blocks(message, incident_id=7, user="U0CAROL", until=NOW)
    assert after[0] == message["blocks"][0]
    assert [e["action_id"] for e in after[1]["elements"]] == ["incident_post_update"]
    assert "<@U0CAROL> snoozed the next reminder until <!date^" in after[2]["elements"][0]["text"]
    assert key_of({"blocks": after}) == "0123abcd"
