"""Scoring runs over HTTP, and the daily limit on the path the CRM takes (POST /v1/scores),
as the API and the console's queue show them."""

import html
import re
import secrets
import uuid

import asyncpg
import httpx
import msgspec
from litestar.testing import AsyncTestClient

from feedback_svc.app import create_app
from feedback_svc.background import background_runners
from feedback_svc.outbox.events import Event
from feedback_svc.recovery.triggers import RecoveryTriggers
from feedback_svc.scoring.scheduler import ScoringScheduler
from feedback_svc.settings import Settings
from tests.conftest import KeyFactory
from tests.integration.recovery.conftest import drain
from tests.integration.users.console_helpers import log_in, make_user


async def customers(conn: asyncpg.Connection, count: int) -> list[uuid.UUID]:
    """Customers with nothing but a value (all different): a score imputes the rest."""
    return [
        await conn.fetchval(
            "INSERT INTO customers (external_id, value) VALUES ($1, $2) RETURNING id",
            f"c-{secrets.token_hex(5)}",
            100.0 * (n + 1),
        )
        for n in range(count)
    ]


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


async def test_an_admin_starts_a_run_follows_it_and_sees_the_days_intake(
    settings: Settings, make_key: KeyFactory, conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    settings = msgspec.structs.replace(
        settings, at_risk_threshold=0.0, proactive_tasks_per_day=4, scoring_batch_size=5
    )
    await customers(conn, 12)
    admin, crm = await make_key("admin", name="ops"), await make_key("crm", name="crm")
    async with AsyncTestClient(app=create_app(settings)) as client:
        assert (await client.post("/v1/scoring/runs", headers=crm)).status_code == 403
        assert (await client.get("/v1/scoring/runs", headers=crm)).status_code == 403

        started = await client.post("/v1/scoring/runs", headers=admin)
        assert started.status_code == 202, started.text
        run = started.json()
        assert started.headers["location"] == f"/v1/scoring/runs/{run['id']}"
        assert (run["status"], run["trigger"], run["requested_by"]) == ("running", "api", "ops")
        assert (run["ranges"], run["ranges_done"], run["daily_limit"]) == (3, 0, 4)
        assert run["at_risk_rule"]["kind"] == "churn_probability"

        again = await client.post("/v1/scoring/runs", headers=admin)
        assert again.status_code == 200
        assert again.json()["id"] == run["id"], "one run at a time"

        # the background runner of any process (here: this test's) scores it
        async with httpx.AsyncClient() as http:
            assert "scoring-scheduler" in background_runners(pool, settings, http=http)
        ended = await ScoringScheduler(
            pool, msgspec.structs.replace(settings, scoring_schedule_hours=0)
        ).tick()
        assert ended is not None
        assert ended["id"] == uuid.UUID(run["id"])
        await drain(pool, settings)

        one = (await client.get(started.headers["location"], headers=admin)).json()
        assert (one["status"], one["ranges_done"], one["customers_scored"]) == ("succeeded", 3, 12)
        assert (one["at_risk"], one["tasks_opened"], one["left_out"]) == (12, 4, 8)
        listed = (await client.get("/v1/scoring/runs?limit=5", headers=admin)).json()
        assert [item["id"] for item in listed["items"]] == [run["id"]]
        assert listed["today"]["daily_limit"] == 4
        assert (listed["today"]["opened"], listed["today"]["left_out"]) == (4, 8)
        missing = await client.get(f"/v1/scoring/runs/{uuid.uuid4()}", headers=admin)
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
        assert (await client.get("/v1/scoring/runs?limit=0", headers=admin)).status_code == 422


async def test_scores_the_crm_asks_for_share_the_daily_limit_and_the_queue_says_who_was_left_out(
    settings: Settings, make_key: KeyFactory, conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    settings = msgspec.structs.replace(settings, at_risk_threshold=0.0, proactive_tasks_per_day=3)
    ids = await customers(conn, 20)
    queued = await conn.fetchval(
        """INSERT INTO recovery_tasks (customer_id, trigger, priority, deadline_at)
           VALUES ($1, 'nps_detractor', 50, now() + interval '1 day') RETURNING id""",
        ids[0],
    )
    crm = await make_key("crm")
    async with AsyncTestClient(app=create_app(settings)) as client:
        scored = await client.post(
            "/v1/scores", json={"items": [{"customer_id": str(i)} for i in ids]}, headers=crm
        )
        assert scored.status_code == 200, scored.text
        await drain(pool, settings)

        proactive = await conn.fetch(
            "SELECT t.id FROM recovery_tasks t WHERE t.trigger = 'churn_risk' AND t.id <> $1", queued
        )
        assert len(proactive) == 3
        # the customer with an open task: the score joins it as evidence, and takes no place
        joined = await conn.fetchval(
            "SELECT count(*) FROM recovery_evidence WHERE task_id = $1 AND trigger = 'churn_risk'", queued
        )
        assert joined == 1
        decided = dict(await conn.fetch("SELECT status, count(*) FROM proactive_intake GROUP BY status"))
        assert decided == {"queued": 3, "already_queued": 1, "left_out": 16}

        # a redelivered event of a left-out score changes nothing
        left = await conn.fetchrow(
            "SELECT s.* FROM proactive_intake i JOIN scores s ON s.id = i.score_id "
            "WHERE i.status = 'left_out' LIMIT 1"
        )
        data = {
            "customer_id": str(left["customer_id"]),
            "score_id": left["id"],
            "churn_probability": left["churn_probability"],
            "value_at_risk": left["value_at_risk"],
        }
        async with conn.transaction():
            await RecoveryTriggers(settings)(conn, Event(id=99, type="customer.at_risk", data=data))
        assert await conn.fetchval("SELECT count(*) FROM recovery_tasks") == 4

        await make_user(conn, email="agent@example.com", role="agent", name="Alex Agent")
        assert (await log_in(client, "agent@example.com")).status_code == 303
        page = text_of((await client.get("/console/queue")).text)
        assert "16 more at-risk customers were not queued today: daily limit 3." in page
