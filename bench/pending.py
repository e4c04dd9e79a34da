"""What the bot still has to do after it answered: read from its database and its journal.

Between two cells the benchmark waits until the apps' work after acknowledging is over, so
that each cell is measured alone (and the baseline's cells are not measured beside the bot's
backlog). A quiet emulator is not enough on its own: an incident's setup goes on through
outbox deliveries whose Web API calls can pause for longer than the quiet period. So the
bot is drained when, besides, every request it kept is processed and no delivery is due.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import col

from storage.db import Database
from storage.models_inbox import InboxRequest
from storage.models_outbox import OutboxDelivery
from storage.types import utcnow
from web.journal import lines_beside


class BotWork:
    """Counts the bot's unfinished work in its database (opened once, read only)."""

    def __init__(self, database_url: str) -> None:
        self.db = Database(database_url)

    def pending(self) -> int:
        """Requests kept and not processed, deliveries due, and lines not moved yet."""
        with self.db.read() as session:
            requests = session.execute(
                select(func.count()).where(col(InboxRequest.processed_at).is_(None))
            ).scalar_one()
            deliveries = session.execute(
                select(func.count()).where(col(OutboxDelivery.due_at) <= utcnow())
            ).scalar_one()
        journal = self.db.sqlite_file
        lines = len(lines_beside(journal)) if journal else 0
        return int(requests) + int(deliveries) + lines

    def close(self) -> None:
        self.db.dispose()
