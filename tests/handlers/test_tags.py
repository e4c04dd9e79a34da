"""`/incident tag` and `/incident untag` in an incident's channel."""

from __future__ import annotations

import pytest

from bot.library import tags
from tests.handlers.conftest import Room
from tests.harness import response_to

pytestmark = pytest.mark.scenario


def test_tag_untag_and_list(room: Room) -> None:
    ws, slack, bot = room.ws, room.slack, room.bot
    added = room.command("tag Database #dns database", user=ws.bob)
    assert "Tagged: `database`, `dns`." in response_to(slack, added.response_url)["text"]
    shown = room.command("tag", user=ws.carol)
    assert "has `database`, `dns`" in response_to(slack, shown.response_url)["text"]
    bad = room.command("tag <b>bold</b>", user=ws.bob)
    assert "is not a tag" in response_to(slack, bad.response_url)["text"]
    removed = room.command("untag dns", user=ws.bob)
    assert "Tags now: `database`." in response_to(slack, removed.response_url)["text"]
    unknown = room.command("untag cache", user=ws.bob)
    assert "not tagged `cache`" in response_to(slack, unknown.response_url)["text"]
    elsewhere = room.driver.slash_command("tag db", user=ws.bob, channel=ws.general)
    assert "incident's channel" in response_to(slack, elsewhere.response_url)["text"]
    with bot.runtime.services.db.read() as session:
        assert tags.tags_of(session, [room.incident.id or 0]) == {
            room.incident.id or 0: ["database"]
        }
