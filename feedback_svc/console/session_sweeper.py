"""Expired console sessions deleted periodically: they are refused anyway, this keeps the table small.

One DELETE per round, safe with any number of processes doing the same.
"""

import asyncio
from contextlib import suppress

import asyncpg
import structlog

from feedback_svc.users.queries import delete_expired_sessions

log = structlog.get_logger(__name__)

SWEEP_SECONDS = 3600.0


class SessionSweeper:
    def __init__(self, pool: asyncpg.Pool, *, interval: float = SWEEP_SECONDS) -> None:
        self.pool = pool
        self.interval = interval

    async def sweep_once(self) -> int:
        async with self.pool.acquire() as conn:
            return await delete_expired_sessions(conn)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                deleted = await self.sweep_once()
                if deleted:
                    log.info("expired console sessions deleted", count=deleted)
            except Exception as error:  # the database is away: try again next round
                log.warning("session sweep failed", error=f"{type(error).__name__}: {error}")
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
