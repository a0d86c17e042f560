"""Outcomes joined with what customers did afterwards, per trigger, agent, root cause and control group."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import pytest
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


ANSWER = "INSERT INTO responses (customer_id, survey_id, kind, score, channel, answered_at, editable_until) "


async def scored_task(
    conn: asyncpg.Connection,
    *,
    before: int,
    after: int | None,
    after_days: float = 5,
    kind: str = "nps",
    trigger: str = "nps_detractor",
    agent: str = "ana",
    root_cause: str = "late_delivery",
    outcome: str = "recovered",
    control: bool = False,
) -> UUID:
    """A task resolved 30 days ago, opened by an answer `before`, and the next answer of that survey."""
    customer = await insert_customer(conn)
    survey = await conn.fetchval("SELECT id FROM surveys WHERE key = $1", kind)
    resolved_at = datetime.now(UTC) - timedelta(days=30)
    answered = await conn.fetchval(
        ANSWER + "VALUES ($1, $2, $3, $4, 'api', $5, $5) RETURNING id",
        customer, survey, kind, before, resolved_at - timedelta(days=2),
    )  # fmt: skip
    task = await insert_task(conn, customer, trigger=trigger, control=control)
    await conn.execute(
        "INSERT INTO recovery_evidence (task_id, trigger, response_id) VALUES ($1, $2, $3)",
        task,
        trigger,
        answered,
    )
    await conn.execute(
        "UPDATE recovery_tasks SET status = 'resolved', outcome = $2, root_cause = $3, resolved_at = $4, "
        "assignee = $5 WHERE id = $1",
        task, outcome, root_cause, resolved_at, None if control else agent,
    )  # fmt: skip
    if after is not None:
        # another survey's answer in between is not this survey's next answer
        other = await conn.fetchval("SELECT id FROM surveys WHERE key = 'ces'")
        await conn.execute(
            ANSWER + "VALUES ($1, $2, 'ces', 7, 'api', $3, $3)",
            customer, other, resolved_at + timedelta(days=1),
        )  # fmt: skip
        await conn.execute(
            ANSWER + "VALUES ($1, $2, $3, $4, 'api', $5, $5)",
            customer, survey, kind, after, resolved_at + timedelta(days=after_days),
        )  # fmt: skip
    return task


async def test_score_change_before_and_after_recovery_against_the_control_group(
    client: AsyncTestClient[Litestar], agent: dict[str, str], conn: asyncpg.Connection
) -> None:
    # worked: +5, +3, +4 (ana), +6 (bob, csat_low trigger on an NPS answer); one never answered again,
    # one answered too late for the window
    for before, after, who in ((2, 7, "ana"), (3, 6, "ana"), (1, 5, "ana"), (0, 6, "bob")):
        await scored_task(conn, before=before, after=after, agent=who,
                          trigger="csat_low" if who == "bob" else "nps_detractor")  # fmt: skip
    await scored_task(conn, before=4, after=None)
    await scored_task(conn, before=4, after=10, after_days=61)
    # control: +1, +2, +0 over the same window
    for before, after in ((3, 4), (2, 4), (5, 5)):
        await scored_task(conn, before=before, after=after, control=True, outcome="no_action_needed",
                          root_cause="control_group")  # fmt: skip
    # a CSAT task is compared on its own scale, in rows of its own
    await scored_task(conn, before=1, after=4, kind="csat", trigger="csat_low")

    body = (await client.get("/v1/recovery/effectiveness", headers=agent)).json()["score_change"]
    assert body["after_days"] == 60
    rows = {(r["kind"], r["dimension"], r["key"]): r for r in body["rows"]}
    worked = rows[("nps", "all", None)]
    assert (worked["tasks"], worked["paired"], worked["before"], worked["after"]) == (6, 4, 1.5, 6.0)
    assert worked["change"]["value"] == 4.5
    assert worked["change"]["low"] < 4.5 < worked["change"]["high"]
    assert worked["change"]["small_sample"]
    control = rows[("nps", "control", None)]
    assert (control["paired"], control["change"]["value"], control["vs_control"]) == (3, 1.0, None)
    assert worked["vs_control"]["value"] == 3.5
    assert worked["vs_control"]["n"] == 7
    ana = rows[("nps", "agent", "ana")]
    assert (ana["tasks"], ana["paired"], ana["change"]["value"]) == (5, 3, 4.0)
    assert rows[("nps", "agent", "bob")]["change"]["low"] is None  # one pair: no interval
    # no control task of that trigger to match: the whole control group is the yardstick
    assert rows[("nps", "trigger", "csat_low")]["vs_control"] is None  # one pair has no variance
    assert rows[("nps", "trigger", "nps_detractor")]["vs_control"]["value"] == pytest.approx(4.0 - 1.0)
    assert rows[("nps", "outcome", "recovered")]["paired"] == 4
    assert rows[("csat", "all", None)]["change"]["value"] == 3.0
    assert rows[("csat", "all", None)]["vs_control"] is None  # no CSAT control tasks

    wider = (await client.get("/v1/recovery/effectiveness?after_days=90", headers=agent)).json()[
        "score_change"
    ]
    assert next(r for r in wider["rows"] if (r["kind"], r["dimension"]) == ("nps", "all"))["paired"] == 5
