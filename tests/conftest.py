"""Shared fixtures: every database test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from storage import Database
from tests.databases import BACKENDS, DatabaseFactory


def _worker_tag() -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"{os.getpid()}_{worker}"


@pytest.fixture(scope="session", params=BACKENDS)
def db_factory(request: pytest.FixtureRequest) -> Iterator[DatabaseFactory]:
    """One factory per backend for the whole test process."""
    factory = DatabaseFactory(request.param, _worker_tag())
    yield factory
    factory.close()


@pytest.fixture
def db(db_factory: DatabaseFactory) -> Iterator[Database]:
    """A fresh, migrated, empty database (SQLite and PostgreSQL)."""
    with db_factory.database() as database:
        yield database


@pytest.fixture
def db_url(db_factory: DatabaseFactory) -> Iterator[str]:
    """The URL of a fresh, migrated, empty database, for code that opens its own engine."""
    url = db_factory.new_url()
    yield url
    db_factory.drop(url)
