"""Deadlines kept visible: overdue, never-contacted tasks are escalated once, control tasks closed
(and their pulse survey scheduled, like a worked task's).

Safe with any number of processes sweeping at once: rows are taken FOR UPDATE SKIP LOCKED,
escalated_at is set in the transaction that writes the history row and the `task.escalated`
event (whose dedupe key is the task id), so each task escalates exactly once.
"""

import asyncio
from contextlib import suppress

import asyncpg
import structlog

from feedback_svc.recovery import queries
from feedback_svc.recovery.pulse import pulse_after, schedule_pulse
from feedback_svc.recovery.service import emit_task_event

log = structlog.get_logger(__name__)

BATCH = 100


class EscalationSweeper:
    def __init__(
        self, pool: asyncpg.Pool, *, interval: float, batch: int = BATCH, pulse_days: int = 0
    ) -> None:
        self.pool = pool
        self.interval = interval
        self.batch = batch
        # a closed control task's pulse, in the same transaction (recovery/pulse.py says why)
        self.pulse_after = pulse_after("no_action_needed", days=pulse_days, control=True)

    async def sweep_once(self) -> tuple[int, int]:
        """(escalated, control tasks closed) in this sweep, batch after batch until none are due."""
        escalated = closed = 0
        while True:
            async with self.pool.acquire() as conn, conn.transaction():
                rows = await queries.escalate_overdue(conn, limit=self.batch)
                for row in rows:
                    await emit_task_event(conn, "task.escalated", row, dedupe="escalated")
                done = await queries.close_control_tasks(conn, limit=self.batch, pulse_after=self.pulse_after)
                for task in done:
                    await schedule_pulse(conn, task)
            escalated += len(rows)
            closed += len(done)
            if len(rows) < self.batch and len(done) < self.batch:
                return escalated, closed

    async def run(self, stop: asyncio.Event) -> None:
        log.info("recovery escalation sweeper started", interval=self.interval)
        while not stop.is_set():
            try:
                escalated, closed = await self.sweep_once()
                if escalated or closed:
                    log.info("recovery sweep", escalated=escalated, control_closed=closed)
            except Exception as error:  # the database is away: try again next round
                log.warning("recovery sweep failed", error=f"{type(error).__name__}: {error}")
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
        log.info("recovery escalation sweeper stopped")
