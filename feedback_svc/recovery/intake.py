"""Proactive intake: which at-risk customers become proactive tasks, at most a daily limit.

Scoring a whole base once opened 23,309 tasks; a team works a few dozen a day. So at most
FEEDBACK_PROACTIVE_TASKS_PER_DAY proactive (`churn_risk`) tasks are opened per UTC day, counted
over every path that opens them:

- a scoring run decides all its at-risk customers at once when it ends: the highest value at
  risk first, into the places the day has left; its `customer.at_risk` events are written for
  the queued ones only, in the same transaction (`decide_run`);
- a score stored by POST /v1/scores emits its event at once, and the event's consumer takes a
  place if one is left, first come first served (`decide_score`).

A customer with an open task is never given a second one: a run leaves them out of the ranking
(`already_queued`, no place taken); an API score joins their open task as evidence, as before.
Every decision is a `proactive_intake` row keyed by its score, so a redelivered event finds its
decision and a crashed run decides again from the start, in one transaction either way.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from feedback_svc.db.sql import load_queries
from feedback_svc.outbox.events import emit_event

Q = load_queries(Path(__file__).with_name("intake.sql"))

AT_RISK_EVENT = "customer.at_risk"
KEEP_DAYS = 90
QUEUED, LEFT_OUT, ALREADY_QUEUED = "queued", "left_out", "already_queued"


def day_of(moment: datetime) -> date:
    """The UTC day a decision counts against."""
    return moment.astimezone(UTC).date()


@dataclass(frozen=True, kw_only=True)
class RunIntake:
    """What a run's ending decided."""

    enabled: bool = True
    opened: int = 0
    already_queued: int = 0
    left_out: int = 0
    places: int = 0
    queued_customers: list[UUID] = field(default_factory=list)


async def decide_score(
    conn: asyncpg.Connection,
    *,
    score_id: int,
    customer_id: UUID,
    churn_probability: float,
    value_at_risk: float,
    limit: int,
    now: datetime,
) -> str:
    """An API-stored at-risk score, in its event's transaction: `queued` when it may open a task
    (a place was left today), `already_queued` when it joins the customer's open task, else
    `left_out`. A redelivered event gets the first answer."""
    found = await conn.fetchval(Q["intake_status"], score_id)
    if found is not None:
        return found
    day = day_of(now)
    # under the lock, so two scores of one customer handled at once see each other's task
    await conn.execute(Q["lock_intake"])
    if await conn.fetchval(Q["open_task_exists"], customer_id):
        status = ALREADY_QUEUED
    else:
        status = QUEUED if await conn.fetchval(Q["queued_on"], day) < limit else LEFT_OUT
    await conn.execute(
        Q["record_intake"], score_id, customer_id, status, day, churn_probability, max(value_at_risk, 0.0)
    )
    return status


async def insert_candidates(
    conn: asyncpg.Connection,
    *,
    run_id: UUID,
    score_ids: list[int],
    customer_ids: list[UUID],
    churn: list[float],
    value_at_risk: list[float],
) -> None:
    if score_ids:
        values = [max(v, 0.0) for v in value_at_risk]
        await conn.execute(Q["insert_candidates"], run_id, score_ids, customer_ids, churn, values)


async def decide_run(conn: asyncpg.Connection, *, run_id: UUID, limit: int, now: datetime) -> RunIntake:
    """A run's candidates into the queue, in the caller's transaction (which ends the run).
    With the churn_risk rule disabled proactive tasks are off: nothing is queued or left out."""
    if not await conn.fetchval(Q["proactive_enabled"]):
        await conn.execute(Q["drop_candidates"], run_id)
        return RunIntake(enabled=False)
    day = day_of(now)
    await conn.execute(Q["lock_intake"])
    places = max(0, limit - await conn.fetchval(Q["queued_on"], day))
    decided = await conn.fetch(Q["decide_run"], run_id, day, places)
    queued = [row["score_id"] for row in decided if row["status"] == QUEUED]
    for row in await conn.fetch(Q["queued_scores"], queued):
        await emit_event(
            conn,
            type=AT_RISK_EVENT,
            data=_event_data(row, run_id=run_id),
            ordering_key=str(row["customer_id"]),
            dedupe_key=f"{AT_RISK_EVENT}:{row['score_id']}",
        )
    await conn.execute(Q["forget_intake_before"], day - timedelta(days=KEEP_DAYS))
    return RunIntake(
        opened=len(queued),
        already_queued=sum(row["status"] == ALREADY_QUEUED for row in decided),
        left_out=sum(row["status"] == LEFT_OUT for row in decided),
        places=places,
        queued_customers=[row["customer_id"] for row in decided if row["status"] == QUEUED],
    )


async def intake_on(conn: asyncpg.Connection | asyncpg.Pool, day: date) -> dict[str, int]:
    """{"opened": proactive tasks queued that day, "left_out": at-risk customers not queued}."""
    row = await conn.fetchrow(Q["intake_on"], day)
    return {"opened": row["opened"], "left_out": row["left_out"]}


def _event_data(row: asyncpg.Record, *, run_id: UUID) -> dict[str, Any]:
    return {
        "customer_id": str(row["customer_id"]),
        "score_id": row["score_id"],
        "churn_probability": row["churn_probability"],
        "risk_band": row["risk_band"],
        "value_at_risk": row["value_at_risk"],
        "model_version": row["model_version"],
        "reasons": row["reasons"],
        "run_id": str(run_id),
    }
