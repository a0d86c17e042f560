"""One training at a time: a second request answers 200 with the run that is queued or running,
however many processes ask at once; a run whose job died does not block the next."""

import asyncio

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.app import create_app
from feedback_svc.db import migrate
from feedback_svc.scoring.trainer import TOPIC
from feedback_svc.settings import Settings
from tests.conftest import KeyFactory
from tests.db import TemplateDatabase, with_database

Client = AsyncTestClient[Litestar]
TRAIN = "/v1/models/training-runs"


async def active_runs(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT count(*) FROM training_runs WHERE status IN ('queued', 'running')")


async def jobs(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = $1", TOPIC)


async def test_a_second_request_answers_with_the_run_in_progress(
    client: Client, make_key: KeyFactory, conn: asyncpg.Connection
) -> None:
    admin = await make_key("admin")
    first = await client.post(TRAIN, headers=admin)
    assert first.status_code == 202, first.text
    again = await client.post(f"{TRAIN}?activate=true&force=true", headers=admin)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()  # the run in progress, its own activate/force unchanged
    assert again.headers["location"] == first.headers["location"]
    await conn.execute("UPDATE training_runs SET status = 'running'")
    assert (await client.post(TRAIN, headers=admin)).status_code == 200
    assert (await active_runs(conn), await jobs(conn)) == (1, 1)
    # once it has finished, the next request trains again
    await conn.execute("UPDATE training_runs SET status = 'succeeded', finished_at = now()")
    later = await client.post(TRAIN, headers=admin)
    assert later.status_code == 202
    assert later.json()["id"] != first.json()["id"]
    assert (await active_runs(conn), await jobs(conn)) == (1, 2)


async def test_many_requests_through_two_processes_start_one_run(
    settings: Settings, make_key: KeyFactory, conn: asyncpg.Connection
) -> None:
    admin = await make_key("admin")
    async with (
        AsyncTestClient(app=create_app(settings)) as one,
        AsyncTestClient(app=create_app(settings)) as two,
    ):
        answers = await asyncio.gather(
            *(client.post(TRAIN, headers=admin) for _ in range(8) for client in (one, two))
        )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * 15 + [202], [answer.text for answer in answers if answer.status_code >= 300]
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert (await active_runs(conn), await jobs(conn)) == (1, 1)


async def test_a_run_whose_job_was_given_up_does_not_block_the_next(
    client: Client, make_key: KeyFactory, conn: asyncpg.Connection
) -> None:
    admin = await make_key("admin")
    stuck = (await client.post(TRAIN, headers=admin)).json()
    await conn.execute(
        "UPDATE outbox SET status = 'dead', last_error = 'MemoryError: out of memory' WHERE topic = $1", TOPIC
    )
    fresh = await client.post(TRAIN, headers=admin)
    assert fresh.status_code == 202
    closed = await conn.fetchrow("SELECT status, error FROM training_runs WHERE id = $1", stuck["id"])
    assert dict(closed) == {"status": "failed", "error": "MemoryError: out of memory"}


async def test_the_migration_keeps_one_waiting_run_of_many(template_database: TemplateDatabase) -> None:
    name = await template_database.copy()
    url = with_database(template_database.admin_url, name)
    try:
        migrate.downgrade(url, "20261206_0007")  # the revision before this rule
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(
                "INSERT INTO training_runs (requested_by, status, created_at) VALUES "
                "('a', 'queued', now() - interval '2 hours'), ('b', 'running', now() - interval '1 hour'), "
                "('c', 'queued', now()), ('d', 'succeeded', now())"
            )
            migrate.upgrade(url)
            rows = await conn.fetch("SELECT requested_by, status FROM training_runs ORDER BY requested_by")
            assert [tuple(row) for row in rows] == [
                ("a", "failed"),
                ("b", "running"),
                ("c", "failed"),
                ("d", "succeeded"),
            ]
        finally:
            await conn.close()
    finally:
        await template_database.drop_copy(name)
