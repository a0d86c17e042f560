from collections.abc import AsyncIterator

import asyncpg
import msgspec
import pytest

from feedback_svc.db.pool import create_pool
from feedback_svc.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # the seeded corpora are small (10 comments make a language worth theming) and hold 2-3 topics
    return msgspec.structs.replace(settings, themes_min_comments=10, themes_max_per_language=3)


@pytest.fixture
async def pool(settings: Settings, database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """The test's own pool, on the test's loop (the app's lives on the test client's)."""
    opened = await create_pool(settings, database_url)
    try:
        yield opened
    finally:
        await opened.close()
