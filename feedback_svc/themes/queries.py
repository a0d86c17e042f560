"""Typed wrappers over themes/queries.sql."""

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from feedback_svc.db.sql import load_queries

Q = load_queries(Path(__file__).with_name("queries.sql"))

Conn = asyncpg.Connection | asyncpg.Pool
Row = dict[str, Any]


def _rows(records: list[asyncpg.Record]) -> list[Row]:
    return [dict(record) for record in records]


async def insert_run(conn: Conn, *, requested_by: str) -> Row | None:
    row = await conn.fetchrow(Q["insert_run"], requested_by)
    return dict(row) if row else None


async def active_run(conn: Conn) -> Row | None:
    row = await conn.fetchrow(Q["active_run"])
    return dict(row) if row else None


async def get_run(conn: Conn, run_id: UUID) -> Row | None:
    row = await conn.fetchrow(Q["get_run"], run_id)
    return dict(row) if row else None


async def list_runs(conn: Conn, *, limit: int) -> list[Row]:
    return _rows(await conn.fetch(Q["list_runs"], limit))


async def close_orphaned_runs(conn: Conn, *, job_key_prefix: str) -> None:
    await conn.execute(Q["close_orphaned_runs"], job_key_prefix)


async def start_run(conn: Conn, run_id: UUID) -> bool:
    return await conn.fetchval(Q["start_run"], run_id) is not None


async def finish_run(
    conn: Conn,
    run_id: UUID,
    *,
    status: str,
    message: str,
    error: str | None,
    summary: dict[str, dict[str, int]],
) -> None:
    await conn.execute(Q["finish_run"], run_id, status, message, error, summary)


async def run_due(conn: Conn, *, every: timedelta) -> bool:
    return bool(await conn.fetchval(Q["run_due"], every))


async def comments(conn: Conn, *, since: datetime, limit: int) -> list[Row]:
    return _rows(await conn.fetch(Q["comments"], since, limit))


async def all_themes(conn: Conn) -> list[Row]:
    return _rows(await conn.fetch(Q["all_themes"]))


async def lock_themes(conn: asyncpg.Connection) -> None:
    await conn.execute(Q["lock_themes"])


async def update_theme_found(
    conn: Conn, theme_id: int, *, top_words: list[str], signature: dict[str, float], run_id: UUID
) -> None:
    await conn.execute(Q["update_theme_found"], theme_id, top_words, signature, run_id)


async def insert_theme(
    conn: Conn, *, locale: str, label: str, top_words: list[str], signature: dict[str, float], run_id: UUID
) -> int:
    return await conn.fetchval(Q["insert_theme"], locale, label, top_words, signature, run_id)


async def rest_unfound_themes(conn: Conn, *, locale: str, found: list[int]) -> None:
    await conn.execute(Q["rest_unfound_themes"], locale, found)


async def clear_assignments(conn: Conn, response_ids: list[UUID]) -> None:
    await conn.execute(Q["clear_assignments"], response_ids)


async def insert_assignments(
    conn: Conn, *, response_ids: list[UUID], theme_ids: list[int], weights: list[float], run_id: UUID
) -> None:
    await conn.execute(
        Q["insert_assignments"], response_ids, theme_ids, weights, [run_id] * len(response_ids)
    )


async def count_comments(conn: Conn) -> None:
    await conn.execute(Q["count_comments"])


async def list_themes(conn: Conn, *, locale: str | None, include_merged: bool) -> list[Row]:
    return _rows(await conn.fetch(Q["list_themes"], locale, include_merged))


async def get_theme(conn: Conn, theme_id: int) -> Row | None:
    row = await conn.fetchrow(Q["get_theme"], theme_id)
    return dict(row) if row else None


async def lock_theme(conn: asyncpg.Connection, theme_id: int) -> Row | None:
    row = await conn.fetchrow(Q["lock_theme"], theme_id)
    return dict(row) if row else None


async def rename_theme(conn: Conn, theme_id: int, *, label: str, actor: str) -> None:
    await conn.execute(Q["rename_theme"], theme_id, label, actor)


async def merge_theme(conn: Conn, theme_id: int, *, into: int, actor: str) -> None:
    await conn.execute(Q["merge_theme"], theme_id, into, actor)


async def theme_examples(conn: Conn, theme_id: int, *, limit: int) -> list[Row]:
    return _rows(await conn.fetch(Q["theme_examples"], theme_id, limit))


async def erase_assignments(conn: Conn, customer_id: UUID) -> None:
    await conn.execute(Q["erase_assignments"], customer_id)


async def score_counts(conn: Conn, *, start: datetime, end: datetime, locale: str | None) -> list[Row]:
    return _rows(await conn.fetch(Q["score_counts"], start, end, locale))


async def churn_by_theme(conn: Conn, *, start: datetime, end: datetime, locale: str | None) -> list[Row]:
    return _rows(await conn.fetch(Q["churn_by_theme"], start, end, locale))


async def monthly_counts(conn: Conn, *, start: datetime, end: datetime, locale: str | None) -> list[Row]:
    return _rows(await conn.fetch(Q["monthly_counts"], start, end, locale))


async def theme_choices(conn: Conn) -> list[Row]:
    return _rows(await conn.fetch(Q["theme_choices"]))
