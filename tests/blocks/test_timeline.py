"""Timeline pages stay within Block Kit's limits however long the timeline and its entries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from blocks.payloads import SharedMessage
from blocks.timeline import (
    PER_PAGE,
    clamp_page,
    entry_line,
    page_count,
    pick_incident_modal,
    timeline_blocks,
)
from bot.core.vocabulary import Role
from bot.incidents import IncidentView
from playground.emulator.blockkit import block_errors, view_errors
from storage.models import Incident
from storage.models_timeline import TimelineEntry

T0 = datetime(2026, 3, 1, 14, 0, tzinfo=UTC)


def _view(number: int = 12, status: str = "investigating") -> IncidentView:
    incident = Incident(
        id=number,
        number=number,
        title="Database is down " + "x" * 140,
        severity="sev2",
        status=status,
        declared_by="UALICE",
        declare_key=f"k{number}",
        declared_at=T0,
    )
    return IncidentView(incident=incident, roles={Role.INCIDENT_MANAGER: "UALICE"})


def _entry(n: int, *, text: str = "", kind: str = "message", **kw: Any) -> TimelineEntry:
    values: dict[str, Any] = {"author": "UBOB", "author_name": "Bob <Baker>", **kw}
    return TimelineEntry(
        id=n,
        incident_id=12,
        kind=kind,
        occurred_at=T0 + timedelta(seconds=n),
        text=text or f"entry {n}",
        added_via="reaction",
        **values,
    )


def _dicts(blocks: list[Any]) -> list[dict[str, Any]]:
    return [block.to_dict() for block in blocks]


def test_page_arithmetic() -> None:
    assert page_count(0) == 1 and page_count(PER_PAGE) == 1 and page_count(PER_PAGE + 1) == 2
    assert page_count(500) == -(-500 // PER_PAGE)
    assert clamp_page(-3, 500) == 0 and clamp_page(999, 500) == page_count(500) - 1


def test_every_page_of_500_huge_entries_is_valid_block_kit() -> None:
    huge = "word " * 2000  # 10,000 characters, far over a section's 3,000
    files = "\n".join(f"file-{n}.log" for n in range(200))
    rows = [
        _entry(n, text=huge, files=files, permalink=f"https://x.slack.com/p{n}") for n in range(500)
    ]
    pages = page_count(len(rows))
    seen = 0
    for page in range(pages):
        chunk = rows[page * PER_PAGE : (page + 1) * PER_PAGE]
        blocks = _dicts(timeline_blocks(_view(), chunk, total=500, page=page))
        assert len(blocks) <= 50
        assert block_errors(blocks) == [], page
        sections = [b for b in blocks if b["type"] == "section"]
        assert all(len(s["text"]["text"]) <= 3000 for s in sections)
        seen += len(sections)
        actions = {e["action_id"] for e in blocks[-1]["elements"]}
        assert ("timeline_earlier" in actions) == (page > 0)
        assert ("timeline_later" in actions) == (page < pages - 1)
        assert "timeline_download" in actions
    assert seen == 500


def test_first_page_tells_where_it_is() -> None:
    rows = [_entry(n) for n in range(PER_PAGE)]
    blocks = _dicts(timeline_blocks(_view(), rows, total=45, page=0))
    assert blocks[0]["type"] == "header" and len(blocks[0]["text"]["text"]) <= 150
    context = blocks[1]["elements"][0]["text"]
    assert context.startswith(f"Entries 1 to {PER_PAGE} of 45 · page 1 of 2")
    later = next(e for e in blocks[-1]["elements"] if e["action_id"] == "timeline_later")
    assert later["value"] == "12:1"


def test_empty_timeline_explains_how_to_add() -> None:
    blocks = _dicts(timeline_blocks(_view(), [], total=0, page=0, emojis=["pushpin", "eyes"]))
    text = blocks[1]["text"]["text"]
    assert ":pushpin: or :eyes:" in text and "/incident note" in text
    assert block_errors(blocks) == []


def test_entry_line_shows_time_author_text_files_link_and_escapes() -> None:
    line = entry_line(
        _entry(
            3,
            text="a < b & c > d",
            files="trace.txt\nheap.bin",
            permalink="https://x.slack.com/archives/C1/p1",
        )
    )
    assert line.startswith("*<!date^1772373603^{date_short} {time_secs}|2026-03-01 14:00 UTC>*")
    assert "<@UBOB>: a &lt; b &amp; c &gt; d" in line
    assert ":paperclip: trace.txt, heap.bin" in line
    assert "<https://x.slack.com/archives/C1/p1|view message>" in line


def test_deleted_bot_and_event_entries() -> None:
    deleted = entry_line(_entry(1, text="oops", deleted_at=T0))
    assert "~oops~ _(message deleted)_" in deleted
    bot = entry_line(_entry(2, author="B0BOT", author_name="Grafana"))
    assert "Grafana: entry 2" in bot
    event = entry_line(_entry(3, kind="event", text="changed the status", author="UALICE"))
    assert ":gear: <@UALICE> changed the status" in event


@pytest.mark.parametrize("count", [1, 3, 150])
def test_incident_picker_is_a_valid_modal(count: int) -> None:
    views = [_view(n, "resolved" if n % 2 else "investigating") for n in range(1, count + 1)]
    shared = SharedMessage.of(
        channel="C1", message={"ts": "1.2", "text": "hello"}, files=[], response_url=None
    )
    view = pick_incident_modal(views, shared=shared, preview="hello <world>\nsecond line")
    data = view.to_dict()
    assert view_errors(data, expected_type="modal") == []
    select = data["blocks"][1]["element"]
    assert len(select["options"]) == min(count, 100)
    assert all(len(o["text"]["text"]) <= 75 for o in select["options"])
    assert ("initial_option" in select) == (count == 1)
    assert data["blocks"][0]["text"]["text"] == "> hello &lt;world&gt;\n> second line"
