"""Typed wrappers over analytics/queries.sql."""

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

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
