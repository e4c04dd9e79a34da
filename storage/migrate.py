"""Run Alembic migrations from code and from the command line (`python -m storage.migrate`)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine | None = None, url: str | None = None) -> Config:
    """An Alembic config pointing at our migrations, bound to an engine or a URL."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        from storage.db import normalize_url

        config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database behind `engine` to `revision`."""
    command.upgrade(alembic_config(engine), revision)


def configured_url() -> str:
    """DATABASE_URL as the bot reads it: the environment first, then `.env`, then the default."""
    from dotenv import dotenv_values

    from storage.db import DEFAULT_URL

    return (
        os.environ.get("DATABASE_URL") or dotenv_values(".env").get("DATABASE_URL") or DEFAULT_URL
    )


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: upgrade, downgrade, current, or autogenerate a revision."""
    parser = argparse.ArgumentParser(prog="python -m storage.migrate")
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("upgrade", help="apply migrations (default: to head)")
    up.add_argument("revision", nargs="?", default="head")
    down = sub.add_parser("downgrade", help="revert migrations")
    down.add_argument("revision")
    sub.add_parser("current", help="show the database's revision")
    rev = sub.add_parser("revision", help="autogenerate a migration from the models")
    rev.add_argument("-m", "--message", required=True)
    parser.add_argument(
        "--database-url", help="default: DATABASE_URL from the environment or .env, as the bot"
    )
    args = parser.parse_args(argv)

    config = alembic_config(url=args.database_url or configured_url())
    if args.cmd == "upgrade":
        command.upgrade(config, args.revision)
    elif args.cmd == "downgrade":
        command.downgrade(config, args.revision)
    elif args.cmd == "current":
        command.current(config, verbose=True)
    else:
        command.revision(config, message=args.message, autogenerate=True)


if __name__ == "__main__":
    main()
