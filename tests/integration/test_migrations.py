"""Migrations go up, all the way down, and up again on a real server."""

import asyncpg

from feedback_svc.db import migrate, revisions
from tests.db import TemplateDatabase, with_database

TABLES = """
SELECT count(*) FROM information_schema.tables
 WHERE table_schema = 'public' AND table_name <> 'alembic_version'
"""


async def test_upgrade_downgrade_upgrade(template_database: TemplateDatabase) -> None:
    name = "fbmig_" + template_database.name.removeprefix("fbtpl_")
    admin = await asyncpg.connect(template_database.admin_url)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        url = with_database(template_database.admin_url, name)
        conn = await asyncpg.connect(url)
        try:
            migrate.upgrade(url)
            tables = await conn.fetchval(TABLES)
            assert tables >= 20
            assert await conn.fetchval("SELECT version_num FROM alembic_version") == migrate.head_revision()

            migrate.downgrade(url, "base")
            assert await conn.fetchval(TABLES) == 0

            migrate.upgrade(url)
            assert await conn.fetchval(TABLES) == tables
        finally:
            await conn.close()
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


def test_the_head_read_without_alembic_is_alembics() -> None:
    assert revisions.head_revision() == migrate.alembic_head_revision()
