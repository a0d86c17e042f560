"""The test database server: TEST_DATABASE_URL when set, else an embedded PostgreSQL.

Migrations run once into a template database; every test that needs the
database gets its own copy (CREATE DATABASE ... TEMPLATE), so tests never see
each other's rows and need no cleanup.
"""

import asyncio
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from feedback_svc.db import migrate


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@contextmanager
def database_server() -> Iterator[str]:
    """Yield an admin URL of a server tests may create databases on."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    from feedback_svc.db.embedded import embedded_database

    base = Path(os.environ.get("FEEDBACK_TEST_DATA_DIR", Path(tempfile.gettempdir()) / "feedback-svc-tests"))
    with embedded_database(base) as app_url:
        yield with_database(app_url, "postgres")


async def _admin(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


class TemplateDatabase:
    """A migrated template and the per-test copies made from it."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.name = f"fbtpl_{secrets.token_hex(4)}"

    def create(self) -> None:
        asyncio.run(_admin(self.admin_url, f"CREATE DATABASE {self.name}"))
        migrate.upgrade(with_database(self.admin_url, self.name))

    def drop(self) -> None:
        with suppress(Exception):
            asyncio.run(_admin(self.admin_url, f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)"))

    async def copy(self) -> str:
        name = f"fbtest_{secrets.token_hex(6)}"
        await _admin(self.admin_url, f"CREATE DATABASE {name} TEMPLATE {self.name}")
        return name

    async def drop_copy(self, name: str) -> None:
        await _admin(self.admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
