"""The background runner that deletes expired console sessions, and only those."""

import asyncio

import asyncpg
import httpx

from feedback_svc.background import background_runners
from feedback_svc.console.session_sweeper import SessionSweeper
from feedback_svc.db.pool import create_pool
from feedback_svc.settings import Settings
from tests.integration.users.console_helpers import make_user
from tests.waiting import eventually


async def test_expired_sessions_are_deleted_and_live_ones_kept(
    conn: asyncpg.Connection, settings: Settings, database_url: str
) -> None:
    user = await make_user(conn, email="pat@example.com")
    for hash_byte, expires in ((b"a", "now() - interval '1 hour'"), (b"b", "now() + interval '1 hour'")):
        await conn.execute(
            f"""INSERT INTO user_sessions (token_hash, user_id, csrf_token, expires_at)
                VALUES ($1, $2, 'csrf', {expires})""",
            hash_byte * 32,
            user.id,
        )
    pool = await create_pool(settings, database_url)
    try:
        async with httpx.AsyncClient() as http:
            assert "console-session-sweeper" in background_runners(pool, settings, http=http)
        stop = asyncio.Event()
        runner = asyncio.create_task(SessionSweeper(pool, interval=0.05).run(stop))
        await eventually(
            lambda: conn.fetchval("SELECT count(*) FROM user_sessions"),
            until=lambda left: left == 1,
            what="the sweeper to delete the expired sessions",
        )
        stop.set()
        await asyncio.wait_for(runner, timeout=5)
    finally:
        await pool.close()
    assert await conn.fetchval("SELECT token_hash FROM user_sessions") == b"b" * 32
