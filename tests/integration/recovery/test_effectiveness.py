"""Outcomes joined with what customers did afterwards, per trigger, agent, root cause and control group."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.recovery.conftest import insert_customer, insert_task


async def resolved_task(
    conn: asyncpg.Connection,
    *,
    days_ago: int,
    outcome: str,
    root_cause: str,
    trigger: str = "nps_detractor",
    agent: str = "ana",
    control: bool = False,
    churned_after: int | None = None,
    renewed_after: int | None = None,
    contacted_late: bool = False,
) -> UUID:
    customer = await insert_customer(conn)
    at = datetime.now(UTC) - timedelta(days=days_ago)
    task = await insert_task(conn, customer, trigger=trigger, deadline_at=at, control=control)
    await conn.execute(
        """UPDATE recovery_tasks
              SET status = 'resolved', outcome = $2, root_cause = $3, resolved_at = $4::timestamptz,
                  created_at = $4::timestamptz, assignee = $5,
                  first_contact_at = $4::timestamptz + CASE WHEN $6 THEN interval '1 hour'
                                                            ELSE interval '-1 hour' END
            WHERE id = $1""",
        task, outcome, root_cause, at, agent, contacted_late,
    )  # fmt: skip
    for kind, after in (("churned", churned_after), ("renewed", renewed_after)):
        if after is not None:
            await conn.execute(
                "INSERT INTO customer_events (customer_id, kind, occurred_at) VALUES ($1, $2, $3)",
                customer,
                kind,
                at + timedelta(days=after),
            )
    return task


async def test_effectiveness_per_dimension_with_control_uplift_and_promises(
    client: AsyncTestClient[Litestar], agent: dict[str, str], conn: asyncpg.Connection
) -> None:
    await resolved_task(conn, days_ago=120, outcome="recovered", root_cause="late_delivery", renewed_after=20)
    await resolved_task(conn, days_ago=120, outcome="not_recovered", root_cause="price", churned_after=45,
                        agent="bob", contacted_late=True)  # fmt: skip
    await resolved_task(conn, days_ago=40, outcome="recovered", root_cause="late_delivery", churned_after=10,
                        trigger="csat_low")  # fmt: skip
    await resolved_task(conn, days_ago=5, outcome="unreachable", root_cause="no_phone")
    # control: two customers left alone, one of whom churned within 90 days
    await resolved_task(conn, days_ago=100, outcome="no_action_needed", root_cause="control_group",
                        control=True, churned_after=60)  # fmt: skip
    await resolved_task(
        conn, days_ago=100, outcome="no_action_needed", root_cause="control_group", control=True
    )

    response = await client.get("/v1/recovery/effectiveness", headers=agent)
    assert response.status_code == 200, response.text
    body = response.json()
    rows = {(r["dimension"], r["key"]): r for r in body["rows"]}
    total = rows[("all", None)]
    assert (total["tasks"], total["recovered"], total["observed_30d"], total["observed_90d"]) == (6, 2, 5, 4)
    late = rows[("root_cause", "late_delivery")]
    assert (late["tasks"], late["observed_30d"], late["churned_30d"], late["renewed_30d"]) == (2, 2, 1, 1)
    assert late["churn_rate_30d"] == 0.5
    assert rows[("agent", "bob")]["churned_90d"] == 1
    assert rows[("agent", "bob")]["churned_30d"] == 0
    assert rows[("trigger", "csat_low")]["tasks"] == 1
    assert rows[("outcome", "unreachable")]["observed_30d"] == 0
    treated, control = rows[("control", "false")], rows[("control", "true")]
    assert (treated["observed_90d"], treated["churned_90d"]) == (2, 1)
    assert (control["observed_90d"], control["churned_90d"]) == (2, 1)
    assert body["uplift_90d"] == 0.0
    # promises: control tasks promised nothing; one of the four treated was contacted late
    assert body["promise"] == {"due": 4, "kept": 3, "rate": 0.75, "escalated": 0}

    since = (datetime.now(UTC) - timedelta(days=50)).isoformat()
    recent = (await client.get("/v1/recovery/effectiveness", params={"since": since}, headers=agent)).json()
    assert next(r for r in recent["rows"] if r["dimension"] == "all")["tasks"] == 2
    bad = await client.get("/v1/recovery/effectiveness", params={"since": "yesterday"}, headers=agent)
    assert bad.status_code == 422
