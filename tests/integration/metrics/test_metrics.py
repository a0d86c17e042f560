from datetime import UTC, datetime, timedelta

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import KeyFactory
from tests.integration.recovery.conftest import insert_customer, insert_task


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_need_the_metrics_scope(
    client: AsyncTestClient[Litestar], make_key: KeyFactory
) -> None:
    assert (await client.get("/metrics")).status_code == 401
    crm = await make_key("crm")
    refused = await client.get("/metrics", headers=crm)
    assert refused.status_code == 403
    assert "metrics" in refused.json()["detail"]
    allowed = await client.get("/metrics", headers=await make_key("metrics"))
    assert allowed.status_code == 200
    assert allowed.headers["content-type"].startswith("text/plain")


async def test_request_latency_is_labelled_by_route_not_raw_path(
    client: AsyncTestClient[Litestar], make_key: KeyFactory, crm: dict[str, str]
) -> None:
    for customer in ("00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002"):
        assert (await client.get(f"/v1/customers/{customer}", headers=crm)).status_code == 404
    text = (await client.get("/metrics", headers=await make_key("metrics"))).text
    routes = {
        dict(labels)["path"]
        for (name, labels) in samples(text)
        if name == "feedback_request_duration_seconds_count"
    }
    # the registry is the process's: other tests' routes may be there too
    assert "/v1/customers/{customer_id}" in routes
    assert not any("0000000001" in route for route in routes)


async def test_work_gauges_read_the_database(
    client: AsyncTestClient[Litestar], conn: asyncpg.Connection, make_key: KeyFactory
) -> None:
    key = await make_key("metrics")
    before = samples((await client.get("/metrics", headers=key)).text)
    assert before[("feedback_outbox_due_jobs", frozenset())] == 0
    assert before[("feedback_outbox_lag_seconds", frozenset())] == 0
    assert before[("feedback_active_model_info", frozenset({("version", "bootstrap")}))] == 1

    await conn.execute(
        "INSERT INTO outbox (topic, payload, run_after) VALUES ('x', '{}', now() - interval '90 seconds'), "
        "('x', '{}', now() + interval '1 hour'), ('y', '{}', now())"
    )
    await conn.execute("INSERT INTO outbox (topic, payload, status) VALUES ('x', '{}', 'dead')")
    after = samples((await client.get("/metrics", headers=key)).text)
    assert after[("feedback_outbox_due_jobs", frozenset())] == 2  # the future one is not due yet
    assert after[("feedback_outbox_lag_seconds", frozenset())] >= 90
    assert after[("feedback_outbox_dead_jobs", frozenset())] == 1


async def test_queue_gauges_count_open_and_overdue_tasks_as_the_queue_does(
    client: AsyncTestClient[Litestar], conn: asyncpg.Connection, make_key: KeyFactory
) -> None:
    key = await make_key("metrics")
    hour = timedelta(hours=1)
    now = datetime.now(UTC)
    for status, deadline, contacted in (
        ("open", now + hour, False),  # in time
        ("open", now - hour, False),  # overdue: the promise is being broken
        ("open", now - hour, True),  # late, but the customer was contacted: the promise is kept
        ("open", now - hour, False),
        ("resolved", now - hour, False),  # done: not in the queue
    ):
        task = await insert_task(conn, await insert_customer(conn), deadline_at=deadline)
        await conn.execute(
            "UPDATE recovery_tasks SET first_contact_at = CASE WHEN $2 THEN now() - interval '2 hours' END "
            "WHERE id = $1",
            task,
            contacted,
        )
        if status == "resolved":
            await conn.execute(
                "UPDATE recovery_tasks SET status = 'resolved', resolved_at = now(), outcome = 'recovered', "
                "root_cause = 'late_delivery' WHERE id = $1",
                task,
            )
    gauges = samples((await client.get("/metrics", headers=key)).text)
    assert gauges[("feedback_recovery_open_tasks", frozenset())] == 4
    assert gauges[("feedback_recovery_overdue_tasks", frozenset())] == 2


async def test_answers_are_counted_once_each(
    client: AsyncTestClient[Litestar], make_key: KeyFactory, crm: dict[str, str]
) -> None:
    key = await make_key("metrics")
    series = ("feedback_answers_total", frozenset({("channel", "api"), ("kind", "csat")}))

    async def counted() -> float:
        return samples((await client.get("/metrics", headers=key)).text).get(series, 0.0)

    customer = (await client.post("/v1/customers", json={"external_id": "m-1"}, headers=crm)).json()
    before = await counted()
    answer = {"customer_id": customer["id"], "survey": "csat", "score": 4}
    headers = {**crm, "Idempotency-Key": "metrics-answer-1"}
    assert (await client.post("/v1/responses", json=answer, headers=headers)).status_code == 201
    assert (await client.post("/v1/responses", json=answer, headers=headers)).status_code == 201  # a replay
    assert (await client.post("/v1/responses", json={**answer, "score": 9}, headers=crm)).status_code == 422
    assert await counted() == before + 1
