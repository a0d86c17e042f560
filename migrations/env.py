"""Alembic environment: plain SQL migrations, run through psycopg.

psycopg (not asyncpg) because a migration is a multi-statement SQL script and
asyncpg only runs those outside prepared statements. The URL comes from the
caller (`feedback-svc migrate`, tests), else DATABASE_URL, else the embedded
server, so `alembic upgrade head` works in a checkout too.
"""

import os
from contextlib import ExitStack
from pathlib import Path

from alembic import context
from sqlalchemy import create_engine, pool


def _sqlalchemy_url(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"postgresql+psycopg://{rest}" if scheme in ("postgresql", "postgres") else url


def _run(url: str) -> None:
    engine = create_engine(_sqlalchemy_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, transaction_per_migration=True)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


def main() -> None:
    if context.is_offline_mode():
        raise SystemExit("offline (--sql) mode is not supported: migrations run against a database")
    with ExitStack() as stack:
        url = context.config.attributes.get("database_url") or os.environ.get("DATABASE_URL")
        if not url:
            from feedback_svc.db.embedded import embedded_database
            from feedback_svc.settings import Settings

            data_dir = os.environ.get("FEEDBACK_DATA_DIR")
            settings = Settings(data_dir=Path(data_dir)) if data_dir else Settings()
            url = stack.enter_context(embedded_database(settings.data_dir))
        _run(url)


main()
