"""A scratch database for the ml tests: `ml_scratch_<hex>`, migrated, dropped after.

Small on purpose: the shared `database_url` fixture in tests/conftest.py can
replace `ml_database_url` one for one.
"""

import asyncio
import functools
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from feedback_svc.db import migrate
from tests.db import database_server

_SERVER = ExitStack()


@functools.cache
def server_url() -> str:
    """TEST_DATABASE_URL, else the same embedded server the rest of the suite uses.

    The embedded server stops at the end of the session (or at exit), whichever
    fixture let go of it last.
    """
    return os.environ.get("TEST_DATABASE_URL") or _SERVER.enter_context(database_server())


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@asynccontextmanager
async def scratch_database() -> AsyncIterator[str]:
    """Yield the URL of a fresh, migrated database; drop it afterwards."""
    name = f"ml_scratch_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(server_url())
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        url = _with_database(server_url(), name)
        # every migration: the features read the attribute history and customer_since
        await asyncio.to_thread(migrate.upgrade, url)
        yield url
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


@pytest.fixture
async def ml_database_url() -> AsyncIterator[str]:
    async with scratch_database() as url:
        yield url


@pytest.fixture
async def ml_conn(ml_database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(ml_database_url)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(scope="session", autouse=True)
def _release_server() -> Iterator[None]:
    """Let go of the embedded server before interpreter shutdown, not in an atexit hook."""
    yield
    _SERVER.close()
