"""Deadlines kept visible: warn before a deadline, escalate an overdue task, close control tasks
(and schedule their pulse survey, like a worked task's).

Escalation means something: an open task nobody contacted by its deadline rises in priority
(ESCALATION_POINTS, the reason stored beside the others), its owner and the managers are alerted
(alerts/, the `escalated` rule), the CRM gets `task.escalated`, and the task shows in the
managers' escalated view. A task due within FEEDBACK_ALERTS_DEADLINE_NEAR_MINUTES is marked and
alerted about once before that (the `deadline_near` rule).

Safe with any number of processes sweeping at once: rows are taken FOR UPDATE SKIP LOCKED, and
escalated_at / deadline_alerted_at are set in the transaction that writes the history row, the
priority, the event and the alerts, so each task escalates (and is warned about) exactly once.
"""

import asyncio
from contextlib import suppress
from datetime import timedelta
from typing import Any, NamedTuple

import asyncpg
import structlog

from feedback_svc.alerts.service import raise_alerts
from feedback_svc.recovery import queries
from feedback_svc.recovery.priority import ESCALATION_POINTS, escalation_reason
from feedback_svc.recovery.pulse import pulse_after, schedule_pulse
from feedback_svc.recovery.service import emit_task_event
from feedback_svc.settings import Settings

log = structlog.get_logger(__name__)

BATCH = 100


class Sweep(NamedTuple):
    escalated: int
    control_closed: int
    deadline_near: int


class EscalationSweeper:
    def __init__(
        self, pool: asyncpg.Pool, *, interval: float, settings: Settings, batch: int = BATCH
    ) -> None:
        self.pool = pool
        self.interval = interval
        self.settings = settings
        self.batch = batch
        self.near = timedelta(minutes=settings.alerts_deadline_near_minutes)
        # a closed control task's pulse, in the same transaction (recovery/pulse.py says why)
        self.pulse_after = pulse_after("no_action_needed", days=settings.recovery_pulse_days, control=True)

    async def sweep_once(self) -> Sweep:
        """What this sweep did, batch after batch until nothing is due."""
        escalated = closed = near = 0
        while True:
            async with self.pool.acquire() as conn, conn.transaction():
                rows = await queries.escalate_overdue(conn, limit=self.batch, points=ESCALATION_POINTS)
                for row in rows:
                    await self._escalate(conn, row)
                warned = await queries.mark_deadline_near(conn, limit=self.batch, within=self.near)
                for row in warned:
                    occasion = row["deadline_alerted_at"].isoformat()
                    await raise_alerts(
                        conn, row, trigger="deadline_near", occasion=occasion, settings=self.settings
                    )
                done = await queries.close_control_tasks(conn, limit=self.batch, pulse_after=self.pulse_after)
                for task in done:
                    await schedule_pulse(conn, task)
            escalated += len(rows)
            near += len(warned)
            closed += len(done)
            if len(rows) < self.batch and len(warned) < self.batch and len(done) < self.batch:
                return Sweep(escalated, closed, near)

    async def _escalate(self, conn: asyncpg.Connection, row: dict[str, Any]) -> None:
        raised = await queries.raise_priority(
            conn, row["id"], points=ESCALATION_POINTS, reason=escalation_reason(row["deadline_at"])
        )
        # keyed by the escalation, so a reopened task that is late again is announced again
        occasion = raised["escalated_at"].isoformat()
        await emit_task_event(conn, "task.escalated", raised, dedupe=occasion)
        await raise_alerts(conn, raised, trigger="escalated", occasion=occasion, settings=self.settings)

    async def run(self, stop: asyncio.Event) -> None:
        log.info("recovery escalation sweeper started", interval=self.interval)
        while not stop.is_set():
            try:
                sweep = await self.sweep_once()
                if any(sweep):
                    log.info("recovery sweep", **sweep._asdict())
            except Exception as error:  # the database is away: try again next round
                log.warning("recovery sweep failed", error=f"{type(error).__name__}: {error}")
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
        log.info("recovery escalation sweeper stopped")
