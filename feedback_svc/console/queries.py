"""Typed wrappers over console/queries.sql: the queue, a customer's story, and console leases."""

from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from feedback_svc.db.sql import load_queries

Q = load_queries(Path(__file__).with_name("queries.sql"))

Conn = asyncpg.Connection | asyncpg.Pool
Row = dict[str, Any]


async def queue_tasks(
    conn: Conn,
    *,
    trigger: str | None,
    touchpoint: str | None,
    segment: str | None,
    owner: str | None,
    unowned: bool,
    after: tuple[float, UUID] | None,
    limit: int,
    theme: int | None = None,
) -> list[Row]:
    priority, task_id = after if after else (None, None)
    rows = await conn.fetch(
        Q["queue_tasks"], trigger, touchpoint, segment, owner, unowned, priority, task_id, limit, theme
    )
    return [dict(row) for row in rows]


async def queue_counts(conn: Conn) -> Row:
    return dict(await conn.fetchrow(Q["queue_counts"]))


async def queue_touchpoints(conn: Conn) -> list[str]:
    return [row["key"] for row in await conn.fetch(Q["queue_touchpoints"])]


async def queue_segments(conn: Conn) -> list[str]:
    return [row["segment"] for row in await conn.fetch(Q["queue_segments"])]


async def story_customer(conn: Conn, customer_id: UUID) -> Row | None:
    row = await conn.fetchrow(Q["story_customer"], customer_id)
    return dict(row) if row else None


async def story_responses(conn: Conn, customer_id: UUID, *, limit: int) -> list[Row]:
    return [dict(row) for row in await conn.fetch(Q["story_responses"], customer_id, limit)]


async def story_interactions(conn: Conn, customer_id: UUID, *, limit: int) -> list[Row]:
    return [dict(row) for row in await conn.fetch(Q["story_interactions"], customer_id, limit)]


async def story_events(conn: Conn, customer_id: UUID, *, limit: int) -> list[Row]:
    return [dict(row) for row in await conn.fetch(Q["story_events"], customer_id, limit)]


async def story_latest_score(conn: Conn, customer_id: UUID) -> Row | None:
    row = await conn.fetchrow(Q["story_latest_score"], customer_id)
    return dict(row) if row else None


async def story_other_tasks(conn: Conn, customer_id: UUID, task_id: UUID) -> list[Row]:
    return [dict(row) for row in await conn.fetch(Q["story_other_tasks"], customer_id, task_id)]


async def take_task(
    conn: asyncpg.Connection, task_id: UUID, *, holder: str, lease: timedelta, manager: bool
) -> Row | None:
    row = await conn.fetchrow(Q["take_task"], task_id, holder, lease, manager)
    return dict(row) if row else None


async def task_holding(conn: Conn, task_id: UUID) -> Row | None:
    row = await conn.fetchrow(Q["task_holding"], task_id)
    return dict(row) if row else None


async def active_people(conn: Conn) -> list[Row]:
    return [dict(row) for row in await conn.fetch(Q["active_people"])]


async def known_root_causes(conn: Conn) -> list[str]:
    return [row["root_cause"] for row in await conn.fetch(Q["known_root_causes"])]


async def escalated_tasks(conn: Conn, *, limit: int) -> list[Row]:
    return [dict(row) for row in await conn.fetch(Q["escalated_tasks"], limit)]


async def task_alerts(conn: Conn, task_id: UUID) -> list[Row]:
    return [dict(row) for row in await conn.fetch(Q["task_alerts"], task_id)]
