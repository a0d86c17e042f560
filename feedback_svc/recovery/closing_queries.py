"""Typed wrappers over recovery/closing.sql: message templates, closing messages and pulses."""

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from feedback_svc.db.sql import load_queries

Q = load_queries(Path(__file__).with_name("closing.sql"))

Row = dict[str, Any]
Conn = asyncpg.Connection | asyncpg.Pool


def _row(record: asyncpg.Record | None) -> Row | None:
    return dict(record) if record is not None else None


async def list_message_templates(conn: Conn) -> list[Row]:
    return [dict(row) for row in await conn.fetch(Q["list_message_templates"])]


async def message_template(conn: Conn, *, outcome: str, locales: list[str]) -> Row | None:
    return _row(await conn.fetchrow(Q["message_template"], outcome, locales))


async def upsert_message_template(
    conn: Conn,
    *,
    outcome: str,
    locale: str,
    subject: str,
    greeting: str,
    body: str,
    sms: str,
    updated_by: str,
) -> Row:
    row = await conn.fetchrow(
        Q["upsert_message_template"], outcome, locale, subject, greeting, body, sms, updated_by
    )
    assert row is not None
    return dict(row)


async def delete_message_template(conn: Conn, *, outcome: str, locale: str) -> bool:
    return await conn.fetchval(Q["delete_message_template"], outcome, locale) is not None


async def task_customer(conn: Conn, task_id: UUID) -> UUID | None:
    return await conn.fetchval(Q["task_customer"], task_id)


async def message_customer(conn: Conn, customer_id: UUID) -> Row | None:
    return _row(await conn.fetchrow(Q["message_customer"], customer_id))


async def agent_name(conn: Conn, agent: str) -> str | None:
    return await conn.fetchval(Q["agent_name"], agent)


async def set_follow_up(
    conn: Conn,
    *,
    task_id: UUID,
    channel: str | None,
    status: str,
    reason: str | None,
    source: str,
    locale: str | None,
    subject: str | None,
    text: str | None,
    actor: str,
    details: dict[str, Any],
) -> Row:
    row = await conn.fetchrow(
        Q["set_follow_up"], task_id, channel, status, reason, source, locale, subject, text, actor, details
    )
    assert row is not None
    return dict(row)


async def lock_customer_of_task(conn: Conn, task_id: UUID) -> Row | None:
    return _row(await conn.fetchrow(Q["lock_customer_of_task"], task_id))


async def lock_follow_up_for_send(conn: Conn, task_id: UUID) -> Row | None:
    return _row(await conn.fetchrow(Q["lock_follow_up_for_send"], task_id))


async def settle_follow_up(
    conn: Conn,
    *,
    task_id: UUID,
    status: str,
    requested_at: datetime,
    reason: str | None,
    forget: bool = False,
) -> bool:
    """Record how the message went; False when it was settled already (or replaced)."""
    settled = await conn.fetchval(Q["settle_follow_up"], task_id, status, requested_at, reason, forget)
    return settled is not None


async def follow_up_waits(
    conn: Conn, *, task_id: UUID, requested_at: datetime, reason: str, give_up: timedelta, delay: timedelta
) -> bool:
    """Keep the message queued with the reason; False when the next try would be too late."""
    return (
        await conn.fetchval(Q["follow_up_waits"], task_id, requested_at, reason, give_up, delay) is not None
    )


async def pulse_plan(conn: Conn, task_id: UUID) -> Row | None:
    return _row(await conn.fetchrow(Q["pulse_plan"], task_id))


async def task_pulse(conn: Conn, task_id: UUID) -> Row | None:
    return _row(await conn.fetchrow(Q["task_pulse"], task_id))
