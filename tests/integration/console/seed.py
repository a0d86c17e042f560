"""A customer with a story, written straight into PostgreSQL: what the console pages read."""

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

COMMENT = 'Waited <b>two</b> hours & nobody "called" <script>alert(1)</script>'


@dataclass(frozen=True)
class Story:
    customer_id: UUID
    task_id: UUID
    earlier_task_id: UUID
    response_id: UUID


async def insert_customer(
    conn: asyncpg.Connection, *, name: str, value: float = 1200.0, segment: str | None = "smb"
) -> UUID:
    return await conn.fetchval(
        """INSERT INTO customers (external_id, name, email, phone, value, segment)
           VALUES ($1, $2, $3, '+4930123456', $4, $5) RETURNING id""",
        f"c-{secrets.token_hex(5)}",
        name,
        f"{secrets.token_hex(3)}@example.com",
        value,
        segment,
    )


async def insert_response(
    conn: asyncpg.Connection,
    customer_id: UUID,
    *,
    kind: str = "nps",
    score: int = 2,
    comment: str | None = COMMENT,
    touchpoint: str = "delivery",
    at: datetime | None = None,
) -> UUID:
    at = at or datetime.now(UTC) - timedelta(hours=3)
    survey_id = await conn.fetchval("SELECT id FROM surveys WHERE key = $1", kind)
    return await conn.fetchval(
        """INSERT INTO responses (customer_id, survey_id, kind, score, comment, channel, touchpoint,
                                  answered_at, editable_until, contact_requested)
           VALUES ($1, $2, $3, $4, $5, 'email', $6, $7::timestamptz,
                   $7::timestamptz + interval '7 days', true)
           RETURNING id""",
        customer_id, survey_id, kind, score, comment, touchpoint, at,
    )  # fmt: skip


async def insert_task(
    conn: asyncpg.Connection,
    customer_id: UUID,
    *,
    priority: float = 50.0,
    trigger: str = "nps_detractor",
    touchpoint: str | None = "delivery",
    deadline_at: datetime | None = None,
    control: bool = False,
    reasons: list[dict[str, Any]] | None = None,
) -> UUID:
    reasons = reasons if reasons is not None else [
        {"factor": "urgency", "points": 30.0, "text": "NPS detractor (score 2): urgency 0.8"},
        {"factor": "value_at_risk", "points": 20.0, "text": "Value at risk 840 of 1200"},
    ]  # fmt: skip
    return await conn.fetchval(
        """INSERT INTO recovery_tasks (customer_id, trigger, touchpoint, priority, priority_reasons,
                                       value_at_risk, deadline_at, control)
           VALUES ($1, $2, $3, $4, $5, 840, $6, $7) RETURNING id""",
        customer_id, trigger, touchpoint, priority, reasons,
        deadline_at or datetime.now(UTC) + timedelta(hours=3, minutes=20, seconds=30), control,
    )  # fmt: skip


async def insert_score(conn: asyncpg.Connection, customer_id: UUID, *, churn: float = 0.7) -> None:
    await conn.execute(
        """INSERT INTO scores (customer_id, model_version, churn_probability, loyalty, risk_band, reasons)
           VALUES ($1, 'v-test', $2, 0.25, 'high', $3)""",
        customer_id,
        churn,
        [{"feature": "latest_nps", "label": "Latest NPS answer", "value": 2, "contribution": 1.3}],
    )


async def seed_story(
    conn: asyncpg.Connection, *, name: str = "Dana Example", priority: float = 90.0
) -> Story:
    """One customer: two answers, an interaction, a score, an earlier resolved task and an open one."""
    customer = await insert_customer(conn, name=name)
    response = await insert_response(conn, customer)
    await insert_response(
        conn, customer, kind="csat", score=2, comment="Parcel arrived crushed", touchpoint="delivery",
        at=datetime.now(UTC) - timedelta(days=40),
    )  # fmt: skip
    await conn.execute(
        """INSERT INTO interactions (customer_id, touchpoint, critical, occurred_at, agent)
           VALUES ($1, 'delivery', true, now() - interval '4 hours', 'courier-7')""",
        customer,
    )
    await insert_score(conn, customer)
    earlier = await insert_task(conn, customer, trigger="csat_low", priority=10)
    await conn.execute(
        """UPDATE recovery_tasks SET status = 'resolved', outcome = 'recovered',
                  root_cause = 'damaged_parcel',
                  resolved_at = now() - interval '30 days', created_at = now() - interval '39 days'
            WHERE id = $1""",
        earlier,
    )
    task = await insert_task(conn, customer, priority=priority)
    await conn.execute(
        """INSERT INTO recovery_evidence (task_id, trigger, response_id, details)
           VALUES ($1, 'nps_detractor', $2, '{"score": 2, "kind": "nps"}')""",
        task,
        response,
    )
    return Story(customer_id=customer, task_id=task, earlier_task_id=earlier, response_id=response)
