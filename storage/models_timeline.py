"""Timeline tables (imported by storage.models so Alembic sees them)."""
