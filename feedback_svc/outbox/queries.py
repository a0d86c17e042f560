"""Typed wrappers over outbox/queries.sql."""

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

from feedback_svc.db.sql import load_queries

Q = load_queries(Path(__file__).with_name("queries.sql"))


class Job(msgspec.Struct, frozen=True):
    id: int
    topic: str
    payload: dict[str, Any]
    attempts: int


async def enqueue(
    conn: asyncpg.Connection,
    *,
    topic: str,
    payload: dict[str, Any],
    ordering_key: str | None = None,
    dedupe_key: str | None = None,
    run_after: datetime | None = None,
) -> int | None:
    """Add work in the caller's transaction; None when the dedupe key already exists."""
    return await conn.fetchval(Q["enqueue"], topic, payload, ordering_key, dedupe_key, run_after)


async def claim_jobs(
    conn: asyncpg.Connection | asyncpg.Pool, *, topics: list[str], worker: str, limit: int, lease: timedelta
) -> list[Job]:
    rows = await conn.fetch(Q["claim_jobs"], topics, worker, limit, lease)
    return [Job(row["id"], row["topic"], row["payload"], row["attempts"]) for row in rows]


async def complete_job(conn: asyncpg.Connection | asyncpg.Pool, *, job_id: int, worker: str) -> None:
    await conn.execute(Q["complete_job"], job_id, worker)


async def retry_job(
    conn: asyncpg.Connection | asyncpg.Pool, *, job_id: int, worker: str, delay: timedelta, error: str
) -> None:
    await conn.execute(Q["retry_job"], job_id, worker, delay, error[:2000])


async def bury_job(conn: asyncpg.Connection | asyncpg.Pool, *, job_id: int, worker: str, error: str) -> None:
    await conn.execute(Q["bury_job"], job_id, worker, error[:2000])


async def defer_job(
    conn: asyncpg.Connection | asyncpg.Pool, *, job_id: int, worker: str, until: datetime, reason: str
) -> None:
    await conn.execute(Q["defer_job"], job_id, worker, until, reason[:2000])
