"""Typed wrappers over analytics/queries.sql."""

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from feedback_svc.db.sql import load_queries

Q = load_queries(Path(__file__).with_name("queries.sql"))

Conn = asyncpg.Connection | asyncpg.Pool
Row = dict[str, Any]


async def score_counts(
    conn: Conn, *, kind: str, start: datetime, end: datetime, period: str, by: str
) -> list[Row]:
    return [dict(row) for row in await conn.fetch(Q["score_counts"], kind, start, end, period, by)]


async def response_counts(conn: Conn, *, start: datetime, end: datetime, period: str, by: str) -> list[Row]:
    return [dict(row) for row in await conn.fetch(Q["response_counts"], start, end, period, by)]


async def detractors_by_touchpoint(conn: Conn, *, start: datetime, end: datetime) -> list[Row]:
    return [dict(row) for row in await conn.fetch(Q["detractors_by_touchpoint"], start, end)]


async def churn_by_touchpoint(conn: Conn, *, start: datetime, end: datetime) -> list[Row]:
    return [dict(row) for row in await conn.fetch(Q["churn_by_touchpoint"], start, end)]


async def export_responses(
    conn: asyncpg.Connection, *, start: datetime, end: datetime, kind: str | None
) -> AsyncIterator[asyncpg.Record]:
    """Rows through a server-side cursor (call inside a transaction): memory stays flat for any size."""
    async for record in conn.cursor(Q["export_responses"], start, end, kind, prefetch=500):
        yield record


async def value_vulnerability(conn: Conn, *, risk_cuts: list[float] | None) -> list[Row]:
    return [dict(row) for row in await conn.fetch(Q["value_vulnerability"], risk_cuts)]


async def active_risk_bands(conn: Conn, *, kind: str) -> Row | None:
    row = await conn.fetchrow(Q["active_risk_bands"], kind)
    return dict(row) if row else None


async def first_contact_times(conn: Conn, *, start: datetime, end: datetime) -> Row:
    return dict(await conn.fetchrow(Q["first_contact_times"], start, end))


# agent performance: both queries read the same per-task facts (see agent_task_facts)
_FACTS = f"WITH facts AS (\n{Q['agent_task_facts']}\n)\n"
_AGENT_SUMMARIES = _FACTS + Q["agent_summaries"]
_AGENT_TASKS = _FACTS + Q["agent_tasks"]


async def agent_summaries(conn: Conn, *, start: datetime, end: datetime, churn_labels: str) -> list[Row]:
    """One row per agent with tasks resolved in [start, end), and the team's (agent None) first."""
    return [dict(row) for row in await conn.fetch(_AGENT_SUMMARIES, start, end, churn_labels)]


async def agent_tasks(
    conn: Conn,
    *,
    start: datetime,
    end: datetime,
    churn_labels: str,
    agent: str,
    metric: str,
    limit: int,
    after: tuple[datetime, UUID] | None,
) -> list[Row]:
    after_at, after_id = after if after else (None, None)
    rows = await conn.fetch(_AGENT_TASKS, start, end, churn_labels, agent, metric, limit, after_at, after_id)
    return [dict(row) for row in rows]


async def console_people(conn: Conn) -> list[Row]:
    return [dict(row) for row in await conn.fetch(Q["console_people"])]
