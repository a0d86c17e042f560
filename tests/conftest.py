"""Shared fixtures: a real PostgreSQL, a fresh migrated database per test, the app."""

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.apikeys.service import create_api_key
from feedback_svc.app import create_app
from feedback_svc.db.pool import connect
from feedback_svc.settings import Settings
from tests.db import TemplateDatabase, database_server, with_database


@pytest.fixture(scope="session")
def template_database() -> Iterator[TemplateDatabase]:
    with database_server() as admin_url:
        template = TemplateDatabase(admin_url)
        template.create()
        try:
            yield template
        finally:
            template.drop()


@pytest.fixture
async def database_url(template_database: TemplateDatabase) -> AsyncIterator[str]:
    """A freshly migrated database of its own for this test."""
    name = await template_database.copy()
    try:
        yield with_database(template_database.admin_url, name)
    finally:
        await template_database.drop_copy(name)


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
def settings(database_url: str) -> Settings:
    # no key cache, so a revoked key is refused on the very next request
    return Settings(
        database_url=database_url,
        secret_key="test-secret-" + "x" * 32,
        api_key_cache_seconds=0,
        db_pool_min=1,
        db_pool_max=4,
        log_format="console",
        # tests drive the outbox worker themselves, so they see each step
        run_workers=False,
        # and start scoring runs themselves: background_runners() in a test scores nobody unasked
        scoring_schedule_hours=0,
    )


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


KeyFactory = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture
def make_key(conn: asyncpg.Connection) -> KeyFactory:
    """Create an API key with the given scopes (acting for `agent`); returns ready-to-send headers."""

    async def make(*scopes: str, name: str = "test", agent: str | None = None) -> dict[str, str]:
        created = await create_api_key(conn, name=name, scopes=list(scopes), agent=agent)
        return {"Authorization": f"Bearer {created.key}"}

    return make


@pytest.fixture
async def crm(make_key: KeyFactory) -> dict[str, str]:
    return await make_key("crm", name="crm")
