"""Typed wrappers over outbox/queries.sql."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

from feedback_svc.db.sql import load_queries

Q = load_queries(Path(__file__).with_name("queries.sql"))
_encode = msgspec.json.Encoder().encode


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


class NewJob(msgspec.Struct, frozen=True):
    """One job of `enqueue_many`: its payload, and its keys as `enqueue` takes them."""

    payload: dict[str, Any]
    ordering_key: str | None = None
    dedupe_key: str | None = None


async def enqueue_many(conn: asyncpg.Connection, *, topic: str, jobs: Sequence[NewJob]) -> list[int]:
    """`enqueue` for many jobs in one statement, run now, in the order given; the ids of those
    whose dedupe key was new."""
    if not jobs:
        return []
    records = await conn.fetch(
        Q["enqueue_many"],
        topic,
        [_encode(job.payload).decode() for job in jobs],
        [job.ordering_key for job in jobs],
        [job.dedupe_key for job in jobs],
    )
    return [record["id"] for record in records]


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
