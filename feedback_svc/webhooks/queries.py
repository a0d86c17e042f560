"""Typed wrappers over webhooks/queries.sql."""

from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from feedback_svc.db.sql import load_queries

Q = load_queries(Path(__file__).with_name("queries.sql"))

Conn = asyncpg.Connection | asyncpg.Pool
Row = asyncpg.Record


class Claimed(msgspec.Struct, frozen=True, kw_only=True):
    """A delivery in hand, with what it takes to sign and send it."""

    id: int
    endpoint_id: UUID
    message_id: str
    event_type: str
    payload: dict[str, Any]
    attempts: int
    url: str
    secrets: tuple[str, ...]  # the current one first; an old one while a rotation overlaps


async def insert_endpoint(
    conn: Conn, *, url: str, description: str | None, secret: str, event_types: list[str], enabled: bool
) -> Row:
    return await conn.fetchrow(Q["insert_endpoint"], url, description, secret, event_types, enabled)


async def list_endpoints(conn: Conn) -> list[Row]:
    return await conn.fetch(Q["list_endpoints"])


async def get_endpoint(conn: Conn, endpoint_id: UUID) -> Row | None:
    return await conn.fetchrow(Q["get_endpoint"], endpoint_id)


async def update_endpoint(
    conn: Conn,
    endpoint_id: UUID,
    *,
    url: str | None,
    set_description: bool,
    description: str | None,
    enabled: bool | None,
    event_types: list[str] | None,
) -> Row | None:
    return await conn.fetchrow(
        Q["update_endpoint"], endpoint_id, url, set_description, description, enabled, event_types
    )


async def delete_endpoint(conn: Conn, endpoint_id: UUID) -> bool:
    return await conn.fetchval(Q["delete_endpoint"], endpoint_id) is not None


async def rotate_secret(conn: Conn, endpoint_id: UUID, *, secret: str, overlap: timedelta) -> Row | None:
    return await conn.fetchrow(Q["rotate_secret"], endpoint_id, secret, overlap)


async def fan_out_event(
    conn: asyncpg.Connection,
    *,
    event_id: int,
    message_id: str,
    event_type: str,
    data: dict[str, Any],
    ordering_key: str | None,
) -> None:
    await conn.execute(Q["fan_out_event"], event_id, message_id, event_type, data, ordering_key)


async def customer_external_id(conn: asyncpg.Connection, customer_id: UUID) -> str | None:
    return await conn.fetchval(Q["customer_external_id"], customer_id)


async def claim_deliveries(conn: Conn, *, runner: str, limit: int, lease: timedelta) -> list[Claimed]:
    rows = await conn.fetch(Q["claim_deliveries"], runner, limit, lease)
    return [
        Claimed(
            id=row["id"],
            endpoint_id=row["endpoint_id"],
            message_id=row["message_id"],
            event_type=row["event_type"],
            payload=row["payload"],
            attempts=row["attempts"],
            url=row["url"],
            secrets=tuple(s for s in (row["secret"], row["previous_secret"]) if s),
        )
        for row in rows
    ]


async def mark_succeeded(conn: Conn, *, delivery_id: int, runner: str, status_code: int) -> None:
    await conn.execute(Q["mark_succeeded"], delivery_id, runner, status_code)


async def mark_retry(
    conn: Conn, *, delivery_id: int, runner: str, delay: timedelta, status_code: int | None, error: str
) -> None:
    await conn.execute(Q["mark_retry"], delivery_id, runner, delay, status_code, error[:500])


async def mark_failed(
    conn: Conn, *, delivery_id: int, runner: str, status_code: int | None, error: str
) -> None:
    await conn.execute(Q["mark_failed"], delivery_id, runner, status_code, error[:500])


async def disable_gone_endpoint(conn: Conn, *, delivery_id: int, runner: str, error: str) -> None:
    await conn.execute(Q["disable_gone_endpoint"], delivery_id, runner, error[:500])


async def list_deliveries(
    conn: Conn, endpoint_id: UUID, *, status: str | None, before: int | None, limit: int
) -> list[Row]:
    return await conn.fetch(Q["list_deliveries"], endpoint_id, status, before, limit)


async def get_delivery(conn: Conn, endpoint_id: UUID, delivery_id: int) -> Row | None:
    return await conn.fetchrow(Q["get_delivery"], endpoint_id, delivery_id)


async def replay_delivery(conn: Conn, endpoint_id: UUID, delivery_id: int) -> Row | None:
    return await conn.fetchrow(Q["replay_delivery"], endpoint_id, delivery_id)
