"""Shared fixtures: every database test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import compileall
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import Database
from tests.databases import BACKENDS, DatabaseFactory

ROOT = Path(__file__).resolve().parents[1]
# What the bot processes the tests start (`python app.py`, its worker, the benchmarks) import.
BOT_SOURCES = ("app.py", "bot", "blocks", "handlers", "storage", "web", "playground", "bench")


def pytest_configure(config: pytest.Config) -> None:
    """Compile the bot's modules once, before any test starts a bot process: with
    PYTHONDONTWRITEBYTECODE set (as in CI), no process writes them, and each of the hundreds
    of processes the tests start would compile all of them again (0.3 s of its start-up)."""
    if hasattr(config, "workerinput"):
        return  # the xdist controller did it
    for name in BOT_SOURCES:
        path = ROOT / name
        if path.is_dir():
            compileall.compile_dir(path, quiet=1)
        else:
            compileall.compile_file(path, quiet=1)


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


# --- Scenario fixtures: the Slack emulator and the real bot -------------------------------

from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

from playground.emulator import SlackDriver, SlackEmulator  # noqa: E402
from tests.harness import APP_TOKEN, BOT_TOKEN, RunningBot, bot_settings  # noqa: E402


@dataclass
class Workspace:
    """The people and channels every scenario starts with."""

    alice: str
    bob: str
    carol: str
    general: str
    random: str


@pytest.fixture(scope="session")
def emulator() -> Iterator[SlackEmulator]:
    """One Slack emulator per test process; reset before each test that uses `slack`."""
    with SlackEmulator(bot_token=BOT_TOKEN, app_tokens=(APP_TOKEN,)) as emu:
        yield emu


@pytest.fixture
def slack(emulator: SlackEmulator) -> SlackEmulator:
    """The emulator, emptied, with faults and latency cleared."""
    emulator.reset()
    return emulator


@pytest.fixture
def workspace(slack: SlackEmulator) -> Workspace:
    """Alice, Bob and Carol in #general and #random."""
    ids = slack.seed_demo()
    return Workspace(
        alice=ids["alice"],
        bob=ids["bob"],
        carol=ids["carol"],
        general=ids["general"],
        random=ids["random"],
    )


@pytest.fixture
def start_bot(slack: SlackEmulator, db_url: str) -> Iterator[Callable[..., RunningBot]]:
    """Start the real bot with settings overrides; stopped after the test."""
    started: list[RunningBot] = []

    def start(**overrides: Any) -> RunningBot:
        bot = RunningBot(bot_settings(slack, db_url, **overrides)).start()
        started.append(bot)
        return bot

    yield start
    for bot in started:
        bot.stop()


@pytest.fixture
def bot(start_bot: Callable[..., RunningBot], workspace: Workspace) -> RunningBot:
    """The real bot with default settings, against a seeded workspace."""
    return start_bot()


@pytest.fixture
def driver(bot: RunningBot, slack: SlackEmulator) -> SlackDriver:
    """Signed requests to the running bot."""
    return bot.driver(slack)


# --- Spreading tests over xdist workers -----------------------------------------------------


# The modules whose tests take longest (real bot processes killed and restarted, leases run
# out, benchmarks, browsers), longest first: they are handed out first, so that both workers
# end together on short tests instead of one of them starting a 30 s test at the end.
# (`--durations=30` shows when this list needs a change.)
SLOW_FIRST = (
    "tests/test_durability.py",
    "tests/test_outbox_replicas.py",
    "tests/test_replicas.py",
    "tests/bench/test_alerts_storm.py",
    "tests/handlers/test_paging_restart.py",
    "tests/test_setup_fairness.py",
    "tests/handlers/test_alerts_restart.py",
    "tests/test_app.py",
    "tests/web/test_playground.py",
    "tests/test_drill_restart.py",
    "tests/test_processing_worker.py",
    "tests/test_notice_restart.py",
    "tests/handlers/test_reminders.py",
    "tests/handlers/test_social.py",
    "tests/handlers/test_stakeholder_notices.py",
    "tests/bench/test_timeline_events.py",
    "tests/bench/test_statuspage_load.py",
    "tests/web/test_statuspage.py",
    "tests/web/test_hostile_requests.py",
    "tests/bench/test_declare_e2e.py",
    "tests/bench/test_console_scale.py",
)


def _slowness(item: pytest.Item) -> int:
    module = item.nodeid.split("::")[0]
    return SLOW_FIRST.index(module) if module in SLOW_FIRST else len(SLOW_FIRST)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep on one worker the tests of a module that shares a module-scoped fixture (a
    browser, a benchmark run): `scripts/test` runs `--dist loadgroup`, which spreads every
    other test one by one, so one long file no longer holds up a worker alone. The slowest
    modules go first (xdist hands out groups, biggest first, then single tests in this order)."""
    items.sort(key=_slowness)  # stable: the rest keep their order
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None or item.get_closest_marker("xdist_group") is not None:
            continue
        for name in info.names_closure:
            if any(d.scope == "module" for d in info.name2fixturedefs.get(name, ())):
                item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
                break


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Under `--dist loadgroup`, xdist puts its group after an "@" in each grouped test's id
    (on the workers); when it cannot (pytest 9.2 with xdist 3.8), the groups are ignored
    without a word and each worker starts its own browser, benchmark run or playground."""
    if not getattr(session.config.option, "loadgroup", False):
        return
    lost = [
        item.nodeid
        for item in session.items
        if item.get_closest_marker("xdist_group") is not None and "@" not in item.nodeid
    ]
    if lost:
        raise pytest.UsageError(f"xdist ignored the group of {len(lost)} tests, e.g. {lost[0]}")


_rerun_reasons: list[str] = []  # in the process that reports: xdist's controller


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Keep why each rerun test failed its first time (pytest-rerunfailures names it only):
    a flaky test is fixed from its failure, which CI's log otherwise never shows."""
    if report.outcome != "rerun":
        return
    crash = getattr(report.longrepr, "reprcrash", None)
    why = f"{crash.path}:{crash.lineno}: {crash.message}" if crash else str(report.longrepr)
    # ... and the test file's lines on the way there (the crash may be in a helper).
    entries = getattr(getattr(report.longrepr, "reprtraceback", None), "reprentries", [])
    mine = [
        str(loc.lineno)
        for loc in (getattr(entry, "reprfileloc", None) for entry in entries)
        if loc is not None and loc.path.endswith(report.location[0])
    ]
    where = f"{report.location[0]}:{' > '.join(mine)}, " if mine else ""
    # ... and the warnings and errors logged meanwhile (the last few), often the cause.
    logged = [
        line
        for title, text in report.sections
        if title.startswith("Captured log")
        for line in text.splitlines()
        if line.startswith(("WARNING", "ERROR", "CRITICAL"))
    ][-8:]
    lines = [f"{report.nodeid} ({report.when}): {where}{why.strip()[:2000]}"]
    lines += [f"    logged: {line[:300]}" for line in logged]
    _rerun_reasons.append("\n".join(lines))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """After the summary: each rerun test's first failure, in a few lines."""
    if not _rerun_reasons:
        return
    terminalreporter.section("why tests were rerun (their first failure)")
    for line in _rerun_reasons:
        terminalreporter.write_line(line)
