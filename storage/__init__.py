"""Persistence: SQLModel tables, the engine and sessions, Alembic migrations."""

from storage.db import Database, normalize_url

__all__ = ["Database", "normalize_url"]
