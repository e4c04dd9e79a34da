"""Fresh, migrated databases for tests: SQLite files and PostgreSQL databases.

A migrated template is made once per test process; each test gets a copy (a file copy for
SQLite, `CREATE DATABASE ... TEMPLATE` for PostgreSQL), so tests never see each other's rows.
On PostgreSQL the next copy is made, and a used one dropped, in a background thread while
the test runs (each takes a tenth of a second or more: PostgreSQL writes the whole copy).
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import psycopg

from storage import Database

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = tuple(
    name.strip()
    for name in os.environ.get("TEST_DATABASES", "sqlite,postgresql").split(",")
    if name.strip()
)


def _admin_conninfo() -> str:
    return POSTGRES_ADMIN_URL


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


class DatabaseFactory:
    """Makes fresh migrated databases of one backend for one test process."""

    def __init__(self, backend: str, tag: str) -> None:
        self.backend = backend
        self.tag = tag
        self._counter = itertools.count()
        self._tmpdir = Path(tempfile.mkdtemp(prefix=f"ib-{tag}-"))
        self._template: str | None = None
        # PostgreSQL: one thread that makes the next database ahead and drops used ones.
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"db-{tag}")
        self._spare: Future[str] | None = None
        self._drops: list[Future[None]] = []

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(_admin_conninfo(), autocommit=True)

    def _prepare_template(self) -> str:
        if self._template is not None:
            return self._template
        if self.backend == "sqlite":
            path = self._tmpdir / "template.db"
            url = f"sqlite:///{path}"
            db = Database(url)
            db.migrate()
            db.dispose()  # closing the last connection checkpoints the WAL into the file
            self._template = str(path)
        else:
            name = f"ibt_{self.tag}_template"
            with self._admin() as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                admin.execute(f'CREATE DATABASE "{name}"')
            db = Database(_with_database(POSTGRES_ADMIN_URL, name))
            db.migrate()
            db.dispose()
            self._template = name
        return self._template

    def new_url(self) -> str:
        """A URL of a new, migrated, empty database."""
        template = self._prepare_template()
        n = next(self._counter)
        if self.backend == "sqlite":
            path = self._tmpdir / f"db{n}.db"
            shutil.copyfile(template, path)
            return f"sqlite:///{path}"
        spare, self._spare = self._spare, None
        name = spare.result() if spare is not None else self._create(f"ibt_{self.tag}_{n}")
        self._spare = self._background.submit(self._create, f"ibt_{self.tag}_{n}_next")
        return _with_database(POSTGRES_ADMIN_URL, name)

    def _create(self, name: str) -> str:
        assert self._template is not None
        with self._admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')
        return name

    def _drop(self, name: str) -> None:
        with self._admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def drop(self, url: str) -> None:
        """Remove a database made by new_url (on PostgreSQL in the background: WITH (FORCE)
        ends any connection the test left open)."""
        if self.backend == "sqlite":
            path = Path(url.removeprefix("sqlite:///"))
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            return
        self._drops.append(self._background.submit(self._drop, url.rpartition("/")[2]))

    def close(self) -> None:
        """Drop the spare, the used databases still to drop, the template; temporary files."""
        spare, self._spare = self._spare, None
        if spare is not None:
            self._drops.append(self._background.submit(self._drop, spare.result()))
        self._background.shutdown(wait=True)
        for dropped in self._drops:
            dropped.result()  # a database that could not be dropped: say so
        if self.backend == "postgresql" and self._template is not None:
            with self._admin() as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self._template}" WITH (FORCE)')
        shutil.rmtree(self._tmpdir, ignore_errors=True)

    @contextmanager
    def database(self) -> Iterator[Database]:
        """A fresh migrated Database, disposed and dropped afterwards."""
        url = self.new_url()
        db = Database(url)
        try:
            yield db
        finally:
            db.dispose()
            self.drop(url)
