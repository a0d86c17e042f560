"""The background runner of scoring runs (runs.py), in every process that runs background work.

Each look (every `poll_seconds`, the first one interval after the process starts): start a run
when the schedule says one is due (FEEDBACK_SCORING_SCHEDULE_HOURS since the last one started; 0
turns the schedule off), then work on whatever run is running, however it was started, until it
has no free range. Any number of processes do the same: the start is decided under one lock and
the ranges are shared, so a run goes as fast as the processes working on it, and one that dies
leaves nothing half done.
"""

import asyncio
from contextlib import suppress

import asyncpg
import structlog

from feedback_svc.scoring import runs
from feedback_svc.scoring.cache import ScorerCache
from feedback_svc.settings import Settings

log = structlog.get_logger(__name__)

POLL_SECONDS = 30.0


class ScoringScheduler:
    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: Settings,
        *,
        scorers: ScorerCache | None = None,
        poll_seconds: float = POLL_SECONDS,
        lanes: int = 1,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.scorers = scorers or ScorerCache(refresh_seconds=settings.model_refresh_seconds)
        self.poll_seconds = poll_seconds
        self.lanes = lanes

    async def tick(self, stop: asyncio.Event | None = None) -> runs.Row | None:
        """Start a due run, work on the running one; the run when this process ended it."""
        hours = self.settings.scoring_schedule_hours
        if hours > 0 and await runs.schedule_due(self.pool, hours=hours):
            await runs.start_run(
                self.pool,
                self.scorers,
                self.settings,
                trigger="schedule",
                requested_by="schedule",
                due_only=True,
            )
        run = await runs.running_run(self.pool)
        if run is None:
            return None
        return await runs.work_on_run(self.pool, self.scorers, run, lanes=self.lanes, stop=stop)

    async def run(self, stop: asyncio.Event) -> None:
        log.info(
            "scoring scheduler started",
            every_hours=self.settings.scoring_schedule_hours or None,
            poll_seconds=self.poll_seconds,
        )
        # the first look one interval after start: a process that just started serves first
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=self.poll_seconds)
        while not stop.is_set():
            try:
                await self.tick(stop)
            except Exception as error:  # the database is away, or a model cannot load: next look
                log.warning("scoring scheduler failed", error=f"{type(error).__name__}: {error}")
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.poll_seconds)
        log.info("scoring scheduler stopped")
