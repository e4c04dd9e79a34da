"""The one visibility rule, and its SQL form agreeing with it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import col, select

from bot.permissions.visibility import may_see, private_channels, visible_filter
from storage import Database
from storage.models import Incident


def _incident(n: int, *, private: bool, channel: str | None) -> Incident:
    return Incident(
        number=n,
        title=f"i{n}",
        severity="sev3",
        declared_by="U1",
        declare_key=f"k{n}",
        private=private,
        channel_id=channel,
        declared_at=datetime(2025, 1, 1, tzinfo=UTC),
    )


def test_rule_and_query_agree(db: Database) -> None:
    rows = [
        _incident(1, private=False, channel="C1"),
        _incident(2, private=True, channel="C2"),
        _incident(3, private=True, channel="C3"),
        _incident(4, private=True, channel=None),  # no channel yet: nobody
        _incident(5, private=False, channel=None),
    ]
    with db.session() as session:
        session.add_all(rows)
    with db.read() as session:
        assert sorted(private_channels(session)) == ["C2", "C3"]
        for channels in (set(), {"C2"}, {"C2", "C3", "C1"}, {"C9"}):
            expected = [i.number for i in rows if may_see(i, channels)]
            found = session.exec(
                select(Incident.number)
                .where(visible_filter(channels))
                .order_by(col(Incident.number))
            ).all()
            assert list(found) == expected, channels
    assert [i.number for i in rows if may_see(i, set())] == [1, 5]
    assert [i.number for i in rows if may_see(i, {"C2"})] == [1, 2, 5]
