"""Answers and churn scores become recovery tasks: one open task per customer, each signal once."""

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.outbox.events import Event
from feedback_svc.recovery.triggers import RecoveryTriggers
from feedback_svc.settings import Settings
from tests.integration.recovery.conftest import (
    answer,
    drain,
    events_of,
    insert_customer,
    response_event,
)

Client = AsyncTestClient[Litestar]


def close_to(actual: datetime, expected: datetime, seconds: float = 30) -> bool:
    return abs((actual - expected).total_seconds()) < seconds


async def test_a_detractor_answer_opens_one_task_with_reasons_and_a_24h_deadline(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection, pool: asyncpg.Pool, settings: Settings
) -> None:
    customer = await insert_customer(conn, value=2000)
    response = await answer(client, crm, customer, survey="nps", score=3)
    await drain(pool, settings)

    task = await conn.fetchrow("SELECT * FROM recovery_tasks WHERE customer_id = $1", customer)
    assert task["status"] == "open"
    assert task["trigger"] == "nps_detractor"
    answered = datetime.fromisoformat(response["answered_at"])
    assert close_to(task["deadline_at"], answered + timedelta(hours=24))
    # no score yet: the documented prior (0.2) stands in for the churn probability
    assert task["value_at_risk"] == 400.0
    factors = {reason["factor"]: reason for reason in task["priority_reasons"]}
    assert set(factors) == {"urgency", "value_at_risk"}
    assert factors["urgency"]["points"] == 60.0
    assert "2,000.00 x churn probability 0.20 (prior" in factors["value_at_risk"]["text"]
    assert task["priority"] == round(60.0 + factors["value_at_risk"]["points"], 1)
    evidence = await conn.fetch("SELECT * FROM recovery_evidence WHERE task_id = $1", task["id"])
    assert [(e["trigger"], str(e["response_id"])) for e in evidence] == [("nps_detractor", response["id"])]
    history = await conn.fetch(
        "SELECT actor, action FROM recovery_task_history WHERE task_id = $1", task["id"]
    )
    assert [(h["actor"], h["action"]) for h in history] == [("system", "created")]
    created = await events_of(conn, "task.created")
    assert [(e["id"], e["trigger"]) for e in created] == [(str(task["id"]), "nps_detractor")]
    assert datetime.fromisoformat(created[0]["deadline_at"]) == task["deadline_at"]


async def test_good_answers_open_nothing(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection, pool: asyncpg.Pool, settings: Settings
) -> None:
    customer = await insert_customer(conn)
    await answer(client, crm, customer, survey="nps", score=7)
    await answer(client, crm, customer, survey="csat", score=3)
    await answer(client, crm, customer, survey="ces", score=5)
    await drain(pool, settings)
    assert await conn.fetchval("SELECT count(*) FROM recovery_tasks") == 0


async def test_more_evidence_joins_the_open_task_and_a_contact_request_tightens_it(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection, pool: asyncpg.Pool, settings: Settings
) -> None:
    customer = await insert_customer(conn, value=500)
    await answer(client, crm, customer, survey="ces", score=7)
    await drain(pool, settings)
    first = await conn.fetchrow("SELECT * FROM recovery_tasks WHERE customer_id = $1", customer)
    assert first["trigger"] == "ces_high_effort"

    contact = await answer(client, crm, customer, survey="csat", score=1, contact=True)
    await drain(pool, settings)
    tasks = await conn.fetch("SELECT * FROM recovery_tasks WHERE customer_id = $1", customer)
    assert len(tasks) == 1
    task = tasks[0]
    assert task["id"] == first["id"]
    assert task["trigger"] == "contact_requested"
    assert close_to(task["deadline_at"], datetime.fromisoformat(contact["answered_at"]) + timedelta(hours=4))
    assert task["priority"] > first["priority"]
    reasons = {reason["factor"]: reason for reason in task["priority_reasons"]}
    assert reasons["urgency"]["points"] == 100.0
    assert reasons["repeated_signals"]["text"].startswith("3 signals")
    triggers = await conn.fetch(
        "SELECT trigger FROM recovery_evidence WHERE task_id = $1 ORDER BY id", task["id"]
    )
    assert [t["trigger"] for t in triggers] == ["ces_high_effort", "contact_requested", "csat_low"]
    actions = await conn.fetch(
        "SELECT action FROM recovery_task_history WHERE task_id = $1 ORDER BY id", task["id"]
    )
    assert [a["action"] for a in actions] == ["created", "evidence_added", "evidence_added"]
    # the CRM heard about the task once
    assert len(await events_of(conn, "task.created")) == 1


async def test_a_redelivered_event_adds_nothing_even_after_the_task_was_resolved(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection, settings: Settings
) -> None:
    customer = await insert_customer(conn)
    response = await answer(client, crm, customer, survey="nps", score=0)
    consume = RecoveryTriggers(settings)
    for _ in range(3):
        async with conn.transaction():
            await consume(conn, response_event(response))
    assert await conn.fetchval("SELECT count(*) FROM recovery_evidence") == 1
    assert await conn.fetchval("SELECT count(*) FROM recovery_task_history") == 1

    await conn.execute(
        "UPDATE recovery_tasks SET status = 'resolved', outcome = 'recovered', resolved_at = now()"
    )
    async with conn.transaction():
        await consume(conn, response_event(response))
    assert await conn.fetchval("SELECT count(*) FROM recovery_tasks") == 1


async def test_concurrent_signals_for_one_customer_make_one_open_task(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection, pool: asyncpg.Pool, settings: Settings
) -> None:
    customer = await insert_customer(conn)
    responses = [await answer(client, crm, customer, survey="nps", score=k % 7) for k in range(12)]
    consume = RecoveryTriggers(settings)

    async def deliver(response: dict[str, object], event_id: int) -> None:
        async with pool.acquire() as c, c.transaction():
            await consume(c, response_event(response, event_id=event_id))

    # each answer twice, all at once: redeliveries race their originals too
    await asyncio.gather(*(deliver(r, k) for k, r in enumerate(responses * 2)))
    assert await conn.fetchval("SELECT count(*) FROM recovery_tasks WHERE customer_id = $1", customer) == 1
    assert await conn.fetchval("SELECT count(*) FROM recovery_evidence") == 12
    assert len(await events_of(conn, "task.created")) == 1
    reasons = await conn.fetchval("SELECT priority_reasons FROM recovery_tasks")
    assert any(r["factor"] == "repeated_signals" and r["points"] == 20 for r in reasons)


async def test_critical_touchpoint_and_high_value_shorten_the_deadline(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection, settings: Settings
) -> None:
    consume = RecoveryTriggers(settings)
    ordinary = await insert_customer(conn, value=100)
    response = await answer(client, crm, ordinary, survey="csat", score=2)
    async with conn.transaction():
        await consume(conn, response_event(response, touchpoint="delivery"))  # critical in 0002
    task = await conn.fetchrow("SELECT * FROM recovery_tasks WHERE customer_id = $1", ordinary)
    answered = datetime.fromisoformat(response["answered_at"])
    assert task["critical"]
    assert task["touchpoint"] == "delivery"
    assert close_to(task["deadline_at"], answered + timedelta(hours=8))
    critical = next(r for r in task["priority_reasons"] if r["factor"] == "critical_touchpoint")
    assert critical["points"] == 20
    assert "delivery" in critical["text"]

    valuable = await insert_customer(conn, value=settings.recovery_high_value)
    response = await answer(client, crm, valuable, survey="csat", score=2)
    async with conn.transaction():
        await consume(conn, response_event(response, touchpoint="support_call"))  # not critical
    task = await conn.fetchrow("SELECT * FROM recovery_tasks WHERE customer_id = $1", valuable)
    assert not task["critical"]
    assert close_to(
        task["deadline_at"], datetime.fromisoformat(response["answered_at"]) + timedelta(hours=12)
    )


async def test_a_churn_score_over_the_threshold_opens_a_proactive_task(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    settings = msgspec.structs.replace(settings, recovery_churn_threshold=0.5)
    consume = RecoveryTriggers(settings)
    customer = await insert_customer(conn, value=3000)

    async def at_risk(probability: float) -> int:
        score_id = await conn.fetchval(
            """INSERT INTO scores (customer_id, model_version, churn_probability, loyalty, risk_band)
               VALUES ($1, 'v-test', $2, 0.5, 'high') RETURNING id""",
            customer,
            probability,
        )
        data = {"customer_id": str(customer), "score_id": score_id, "churn_probability": probability,
                "risk_band": "high", "value_at_risk": 3000 * probability, "model_version": "v-test",
                "reasons": []}  # fmt: skip
        async with conn.transaction():
            await consume(conn, Event(id=score_id, type="customer.at_risk", data=data))
            await consume(conn, Event(id=score_id, type="customer.at_risk", data=data))  # redelivered
        return score_id

    await at_risk(0.49)  # an at-risk event under the optional threshold opens nothing
    assert await conn.fetchval("SELECT count(*) FROM recovery_tasks") == 0
    score_id = await at_risk(0.8)
    task = await conn.fetchrow("SELECT * FROM recovery_tasks")
    assert task["trigger"] == "churn_risk"
    assert task["value_at_risk"] == 2400.0
    value = next(r for r in task["priority_reasons"] if r["factor"] == "value_at_risk")
    assert f"score {score_id}, model v-test" in value["text"]
    assert close_to(task["deadline_at"], datetime.now(UTC) + timedelta(hours=72), seconds=60)
    assert await conn.fetchval("SELECT count(*) FROM recovery_evidence WHERE score_id = $1", score_id) == 1


async def test_control_share_leaves_tasks_uncontacted_but_never_a_contact_request(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection, settings: Settings
) -> None:
    consume = RecoveryTriggers(msgspec.structs.replace(settings, recovery_control_share=1.0))
    asker = await insert_customer(conn)
    response = await answer(client, crm, asker, survey="nps", score=2, contact=True)
    async with conn.transaction():
        await consume(conn, response_event(response))
    assert await conn.fetchval("SELECT control FROM recovery_tasks WHERE customer_id = $1", asker) is False

    quiet = await insert_customer(conn)
    response = await answer(client, crm, quiet, survey="nps", score=2)
    async with conn.transaction():
        await consume(conn, response_event(response))
    assert await conn.fetchval("SELECT control FROM recovery_tasks WHERE customer_id = $1", quiet) is True
    created = await events_of(conn, "task.created")
    assert len(created) == 1, "a control task must stay unknown to the CRM"

    # the control customer asks to be contacted after all: out of the control group, now announced
    contact = await answer(client, crm, quiet, survey="csat", score=4, contact=True)
    async with conn.transaction():
        await consume(conn, response_event(contact, event_id=2))
    assert await conn.fetchval("SELECT control FROM recovery_tasks WHERE customer_id = $1", quiet) is False
    assert len(await events_of(conn, "task.created")) == 2
    details = await conn.fetchval(
        "SELECT details FROM recovery_task_history WHERE action = 'evidence_added' ORDER BY id DESC LIMIT 1"
    )
    assert details["left_control"] == "the customer asked to be contacted"


async def test_a_disabled_rule_fires_nothing(
    client: Client,
    crm: dict[str, str],
    make_key: object,
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    settings: Settings,
) -> None:
    admin = await make_key("admin", name="boss")  # type: ignore[operator]
    rule = {"enabled": False, "urgency": 0.6, "deadline_hours": 24, "critical_deadline_hours": 8,
            "high_value_deadline_hours": 12}  # fmt: skip
    agent = await make_key("agent", name="agent")  # type: ignore[operator]
    refused = await client.put("/v1/recovery/rules/nps_detractor", json=rule, headers=agent)
    assert refused.status_code == 403
    updated = await client.put("/v1/recovery/rules/nps_detractor", json=rule, headers=admin)
    assert updated.status_code == 200, updated.text
    assert updated.json()["enabled"] is False
    bad = await client.put("/v1/recovery/rules/nps_detractor", json={**rule, "urgency": 2}, headers=admin)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")

    customer = await insert_customer(conn)
    await answer(client, crm, customer, survey="nps", score=1)
    await drain(pool, settings)
    assert await conn.fetchval("SELECT count(*) FROM recovery_tasks") == 0
    rules = (await client.get("/v1/recovery/rules", headers=agent)).json()
    assert {r["trigger"]: r["deadline_hours"] for r in rules}["contact_requested"] == 4


async def test_an_unreadable_event_is_skipped_without_holding_back_the_others(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    consume = RecoveryTriggers(settings)
    async with conn.transaction():
        await consume(conn, Event(id=9, type="response.created", data={"id": "not-a-uuid", "score": "x"}))
        await consume(conn, Event(id=10, type="customer.at_risk", data={"customer_id": None}))
        await consume(conn, Event(id=11, type="customer.opted_out", data={}))
    assert await conn.fetchval("SELECT count(*) FROM recovery_tasks") == 0
