"""The managers' escalated view and alerts record against a real PostgreSQL and the real sweep."""

from datetime import UTC, datetime, timedelta

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.db.pool import create_pool
from feedback_svc.recovery.escalation import EscalationSweeper
from feedback_svc.settings import Settings
from tests.integration.console.seed import insert_customer, insert_task
from tests.integration.console.test_queue_and_task_pages import text_of
from tests.integration.users.console_helpers import log_in, make_user, page_token

Client = AsyncTestClient[Litestar]
MANAGER, AGENT, OTHER = "boss@example.com", "alex@example.com", "sam@example.com"


async def escalate(settings: Settings, database_url: str) -> None:
    pool = await create_pool(settings, database_url)
    try:
        await EscalationSweeper(pool, interval=1, settings=settings).sweep_once()
    finally:
        await pool.close()


async def test_a_manager_sees_escalated_tasks_why_they_rose_and_reassigns_from_the_list(
    client: Client, conn: asyncpg.Connection, settings: Settings, database_url: str
) -> None:
    await make_user(conn, email=MANAGER, role="manager", name="Morgan Boss")
    await make_user(conn, email=AGENT, name="Alex Agent")
    await make_user(conn, email=OTHER, name="Sam Other")
    late = await insert_customer(conn, name="Late Larry")
    task = await insert_task(conn, late, priority=40, deadline_at=datetime.now(UTC) - timedelta(hours=3))
    await conn.execute("UPDATE recovery_tasks SET assignee = $2 WHERE id = $1", task, AGENT)
    on_time = await insert_customer(conn, name="On Time Olga")
    await insert_task(conn, on_time, priority=95, deadline_at=datetime.now(UTC) + timedelta(hours=5))
    await escalate(settings, database_url)

    assert (await log_in(client, MANAGER)).status_code == 303
    page = await client.get("/console/queue/escalated")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "1 escalated task" in text
    assert "Late Larry" in text
    assert "On Time Olga" not in text
    assert "Why it rose: escalated: nobody contacted the customer by the deadline" in text
    assert "+50 points" in text
    assert "priority 90.0" in text
    assert "Owner Alex Agent (assigned)" in text
    assert "Alerts 0 sent, 2 waiting" in text  # the owner and the manager
    assert 'aria-current="page"' in page.text

    queue = text_of((await client.get("/console/queue")).text)
    assert "Escalated overdue by 3 h" in queue

    token = await page_token(client, "/console/queue/escalated")
    moved = await client.post(
        f"/console/tasks/{task}/assign",
        data={"csrf_token": token, "assignee": OTHER, "next": "escalated"},
        follow_redirects=False,
    )
    assert moved.status_code == 303
    assert moved.headers["location"] == "/console/queue/escalated?done=assigned"
    assert await conn.fetchval("SELECT assignee FROM recovery_tasks WHERE id = $1", task) == OTHER
    after = text_of((await client.get("/console/queue/escalated?done=assigned")).text)
    assert "The task was reassigned." in after
    assert "Owner Sam Other (assigned)" in after

    story = text_of((await client.get(f"/console/tasks/{task}")).text)
    assert "Escalated" in story
    assert "Priority raised by 50 points." in story
    assert "Escalated to Morgan Boss (email): waiting to go out" in story
    assert "Escalated to Alex Agent (email): waiting to go out" in story


async def test_the_alerts_page_keeps_every_alert_with_its_status_and_filters(
    client: Client, conn: asyncpg.Connection, settings: Settings, database_url: str
) -> None:
    await make_user(conn, email=MANAGER, role="manager", name="Morgan Boss")
    for name in ("Ann", "Bob"):
        customer = await insert_customer(conn, name=f"{name} Example")
        await insert_task(conn, customer, deadline_at=datetime.now(UTC) - timedelta(hours=1))
    await escalate(settings, database_url)
    first = await conn.fetchval("SELECT min(id) FROM alerts")
    await conn.execute(
        "UPDATE alerts SET status = 'failed', error = 'HTTP 404: the receiver refuses it', attempts = 1 "
        "WHERE id = $1",
        first,
    )
    assert (await log_in(client, MANAGER)).status_code == 303

    text = text_of((await client.get("/console/alerts")).text)
    assert "0 sent in the last 24 hours, 1 waiting to go out, 1 failed" in text
    assert "Ann Example" in text
    assert "Bob Example" in text
    assert "Failed: HTTP 404: the receiver refuses it" in text
    failed_only = text_of((await client.get("/console/alerts?status=failed")).text)
    assert failed_only.count("Escalated urgent") == 1
    # a filter the page does not know shows everything rather than failing
    assert (await client.get("/console/alerts?status=nonsense&trigger=x&before=-3")).status_code == 200


async def test_agents_stay_out_of_the_managers_pages(client: Client, conn: asyncpg.Connection) -> None:
    await make_user(conn, email=AGENT, name="Alex Agent")
    assert (await log_in(client, AGENT)).status_code == 303
    for path in ("/console/queue/escalated", "/console/alerts"):
        assert (await client.get(path)).status_code == 403
    assert "/console/alerts" not in (await client.get("/console/queue")).text
