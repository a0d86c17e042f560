"""Typed wrappers over alerts/queries.sql."""

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from feedback_svc.db.sql import load_queries

Q = load_queries(Path(__file__).with_name("queries.sql"))

Conn = asyncpg.Connection | asyncpg.Pool
Row = dict[str, Any]


class Claimed(msgspec.Struct, frozen=True, kw_only=True):
    """An alert in hand; those with the same message_key go out as one message."""

    id: int
    message_key: int
    channel: str
    recipient: str
    attempts: int


async def list_rules(conn: Conn) -> list[Row]:
    return [dict(row) for row in await conn.fetch(Q["list_rules"])]


async def get_rule(conn: Conn, *, trigger: str, urgency: str) -> Row | None:
    row = await conn.fetchrow(Q["get_rule"], trigger, urgency)
    return dict(row) if row else None


async def update_rule(
    conn: Conn, *, trigger: str, urgency: str, enabled: bool, recipients: dict[str, Any]
) -> Row | None:
    row = await conn.fetchrow(Q["update_rule"], trigger, urgency, enabled, recipients)
    return dict(row) if row else None


async def known_user_ids(conn: Conn, ids: list[UUID]) -> set[UUID]:
    return {row["id"] for row in await conn.fetch(Q["known_user_ids"], ids)}


async def people_to_alert(
    conn: Conn, *, roles: list[str], user_ids: list[UUID], owner: str | None
) -> list[Row]:
    return [dict(row) for row in await conn.fetch(Q["people_to_alert"], roles, user_ids, owner)]


async def insert_alerts(
    conn: Conn,
    *,
    task_id: UUID,
    trigger: str,
    urgency: str,
    occasion: str,
    recipients: list[tuple[str, str, UUID | None]],
) -> int:
    """(channel, recipient, user id) rows; how many were new."""
    channels, addresses, users = (list(column) for column in zip(*recipients, strict=True))
    rows = await conn.fetch(
        Q["insert_alerts"], task_id, trigger, urgency, occasion, channels, addresses, users
    )
    return len(rows)


async def claim_alerts(conn: Conn, *, runner: str, recipients: int, lease: timedelta) -> list[Claimed]:
    """Every due alert of up to `recipients` recipients, leased to `runner`."""
    rows = await conn.fetch(Q["claim_alerts"], runner, recipients, lease)
    return [msgspec.convert(dict(row), Claimed) for row in rows]


async def alert_context(conn: Conn, ids: list[int]) -> list[Row]:
    return [dict(row) for row in await conn.fetch(Q["alert_context"], ids)]


async def recent_messages(conn: Conn, *, channel: str, recipient: str, window: timedelta) -> Row:
    row = await conn.fetchrow(Q["recent_messages"], channel, recipient, window)
    assert row is not None
    return dict(row)


async def mark_sent(conn: Conn, ids: list[int], *, runner: str) -> None:
    await conn.execute(Q["mark_sent"], ids, runner)


async def mark_retry(conn: Conn, ids: list[int], *, runner: str, delay: timedelta, error: str) -> None:
    await conn.execute(Q["mark_retry"], ids, runner, delay, error[:500])


async def mark_failed(conn: Conn, ids: list[int], *, runner: str, error: str) -> None:
    await conn.execute(Q["mark_failed"], ids, runner, error[:500])


async def cancel_alerts(conn: Conn, ids: list[int], *, runner: str, reason: str) -> None:
    await conn.execute(Q["cancel_alerts"], ids, runner, reason[:500])


async def defer_alerts(conn: Conn, ids: list[int], *, runner: str, until: datetime) -> None:
    await conn.execute(Q["defer_alerts"], ids, runner, until)


async def list_alerts(
    conn: Conn,
    *,
    status: str | None,
    trigger: str | None,
    task_id: UUID | None,
    channel: str | None,
    before: int | None,
    limit: int,
) -> list[Row]:
    rows = await conn.fetch(Q["list_alerts"], status, trigger, task_id, channel, before, limit)
    return [dict(row) for row in rows]


async def alert_counts(conn: Conn) -> Row:
    row = await conn.fetchrow(Q["alert_counts"])
    assert row is not None
    return dict(row)
