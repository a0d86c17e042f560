"""Overdue, never-contacted tasks escalate exactly once, however many sweepers run."""

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec

from feedback_svc.app import create_app
from feedback_svc.recovery.escalation import EscalationSweeper
from feedback_svc.settings import Settings
from tests.integration.recovery.conftest import events_of, insert_customer, insert_task
from tests.waiting import eventually


def hours_ago(hours: float) -> datetime:
    return datetime.now(UTC) - timedelta(hours=hours)


async def test_many_sweepers_escalate_each_overdue_task_exactly_once(
    conn: asyncpg.Connection, pool: asyncpg.Pool, settings: Settings
) -> None:
    overdue = {
        await insert_task(conn, await insert_customer(conn), deadline_at=hours_ago(1)) for _ in range(25)
    }
    contacted = await insert_task(conn, await insert_customer(conn), deadline_at=hours_ago(1))
    await conn.execute(
        "UPDATE recovery_tasks SET first_contact_at = deadline_at - interval '5 minutes' WHERE id = $1",
        contacted,
    )
    await insert_task(conn, await insert_customer(conn), deadline_at=hours_ago(-1))  # not due yet

    sweepers = [EscalationSweeper(pool, interval=1, settings=settings, batch=4) for _ in range(4)]
    results = await asyncio.gather(*(s.sweep_once() for s in sweepers))
    assert sum(sweep.escalated for sweep in results) == 25
    assert sum([(await s.sweep_once()).escalated for s in sweepers]) == 0

    escalated = await conn.fetch("SELECT id FROM recovery_tasks WHERE escalated_at IS NOT NULL")
    assert {row["id"] for row in escalated} == overdue
    events = await events_of(conn, "task.escalated")
    assert sorted(e["id"] for e in events) == sorted(str(i) for i in overdue)
    assert all(e["escalated_at"] is not None for e in events)
    history = await conn.fetch(
        "SELECT task_id, actor, details FROM recovery_task_history WHERE action = 'escalated'"
    )
    assert len(history) == 25
    assert {h["actor"] for h in history} == {"system"}
    assert all(h["details"]["overdue_seconds"] >= 3600 for h in history)


async def test_control_tasks_close_at_their_deadline_without_contact_or_events(
    conn: asyncpg.Connection, pool: asyncpg.Pool, settings: Settings
) -> None:
    task = await insert_task(conn, await insert_customer(conn), deadline_at=hours_ago(1), control=True)
    escalated, closed, _ = await EscalationSweeper(pool, interval=1, settings=settings).sweep_once()
    assert (escalated, closed) == (0, 1)
    row = await conn.fetchrow("SELECT * FROM recovery_tasks WHERE id = $1", task)
    assert (row["status"], row["outcome"], row["root_cause"]) == (
        "resolved",
        "no_action_needed",
        "control_group",
    )
    assert row["escalated_at"] is None
    assert await events_of(conn, "task.escalated") == []


async def test_the_app_runs_the_sweeper_in_the_background(
    settings: Settings, conn: asyncpg.Connection
) -> None:
    from litestar.testing import AsyncTestClient

    task = await insert_task(conn, await insert_customer(conn), deadline_at=hours_ago(2))
    app = create_app(msgspec.structs.replace(settings, run_workers=True, recovery_sweep_seconds=0.2))
    async with AsyncTestClient(app=app):
        await eventually(
            lambda: conn.fetchval("SELECT escalated_at FROM recovery_tasks WHERE id = $1", task),
            what="the app's sweeper to escalate the task",
        )
    assert await conn.fetchval("SELECT escalated_at FROM recovery_tasks WHERE id = $1", task) is not None
