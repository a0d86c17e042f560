"""A scratch database for the ml tests: `ml_scratch_<hex>`, migrated, dropped after.

Small on purpose: the shared `database_url` fixture in tests/conftest.py can
replace `ml_database_url` one for one.
"""

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest

from feedback_svc.db import migrate
from tests.db import with_database


@asynccontextmanager
async def scratch_database(admin_url: str) -> AsyncIterator[str]:
    """Yield the URL of a fresh, migrated database on the test server; drop it afterwards."""
    name = f"ml_scratch_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        url = with_database(admin_url, name)
        # every migration: the features read the attribute history and customer_since
        await asyncio.to_thread(migrate.upgrade, url)
        yield url
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


@pytest.fixture
async def ml_database_url(database_admin_url: str) -> AsyncIterator[str]:
    async with scratch_database(database_admin_url) as url:
        yield url


@pytest.fixture
async def ml_conn(ml_database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(ml_database_url)
    try:
        yield conn
    finally:
        await conn.close()
