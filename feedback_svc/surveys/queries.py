"""Typed wrappers over surveys/queries.sql."""

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from feedback_svc.db.sql import load_queries

Q = load_queries(Path(__file__).with_name("queries.sql"))

Row = dict[str, Any]
Conn = asyncpg.Connection | asyncpg.Pool


def _row(record: asyncpg.Record | None) -> Row | None:
    return dict(record) if record is not None else None


async def last_invited_at(conn: Conn, customer_id: UUID) -> datetime | None:
    return await conn.fetchval(Q["last_invited_at"], customer_id)


async def opted_out_channels(conn: Conn, *, email: str | None, phone: str | None) -> frozenset[str]:
    rows = await conn.fetch(Q["opted_out_channels"], email, phone)
    return frozenset(row["channel"] for row in rows)


async def get_survey(conn: Conn, key: str) -> Row | None:
    return _row(await conn.fetchrow(Q["get_survey"], key))


async def list_surveys(conn: Conn) -> list[Row]:
    return [dict(row) for row in await conn.fetch(Q["list_surveys"])]


async def get_touchpoint(conn: Conn, key: str) -> Row | None:
    return _row(await conn.fetchrow(Q["get_touchpoint"], key))


async def survey_is_active(conn: Conn, key: str) -> bool:
    return bool(await conn.fetchval(Q["survey_is_active"], key))


async def lock_touchpoint(conn: Conn, key: str) -> Row | None:
    return _row(await conn.fetchrow(Q["lock_touchpoint"], key))


async def retire_touchpoint(conn: Conn, key: str) -> None:
    await conn.execute(Q["retire_touchpoint"], key)


async def list_touchpoints(conn: Conn) -> list[Row]:
    return [dict(row) for row in await conn.fetch(Q["list_touchpoints"])]


async def upsert_touchpoint(
    conn: Conn,
    *,
    key: str,
    name: str,
    critical: bool,
    survey_key: str | None,
    invite_delay: timedelta,
    reminder_count: int | None,
    reminder_delay: timedelta | None,
    display_names: dict[str, str] | None,
    channel_preference: str | None = None,
    cooldown: timedelta | None = None,
) -> Row:
    row = await conn.fetchrow(
        Q["upsert_touchpoint"],
        key,
        name,
        critical,
        survey_key,
        invite_delay,
        reminder_count,
        reminder_delay,
        display_names,
        channel_preference,
        cooldown,
    )
    assert row is not None
    return dict(row)


async def insert_interaction(
    conn: Conn,
    *,
    customer_id: UUID,
    external_id: str | None,
    touchpoint: str,
    critical: bool,
    occurred_at: datetime,
    channel_preference: str | None,
    agent: str | None,
    attributes: dict[str, Any],
    no_survey_reason: str | None = None,
) -> Row:
    row = await conn.fetchrow(
        Q["insert_interaction"],
        customer_id,
        external_id,
        touchpoint,
        critical,
        occurred_at,
        channel_preference,
        agent,
        attributes,
        no_survey_reason,
    )
    assert row is not None
    return dict(row)


async def invitation_for_interaction(conn: Conn, interaction_id: UUID) -> Row | None:
    return _row(await conn.fetchrow(Q["invitation_for_interaction"], interaction_id))


async def insert_invitation(
    conn: Conn,
    *,
    invitation_id: UUID,
    survey_id: UUID,
    customer_id: UUID,
    interaction_id: UUID | None,
    channel: str | None,
    token_hash: bytes | None,
    status: str,
    reason: str,
    locale: str,
    send_at: datetime | None,
    sent_at: datetime | None,
    expires_at: datetime,
    purpose: str = "survey",
    recovery_task_id: UUID | None = None,
) -> Row:
    row = await conn.fetchrow(
        Q["insert_invitation"],
        invitation_id,
        survey_id,
        customer_id,
        interaction_id,
        channel,
        token_hash,
        status,
        reason,
        locale,
        send_at,
        sent_at,
        expires_at,
        purpose,
        recovery_task_id,
    )
    assert row is not None
    return dict(row)


async def get_interaction(conn: Conn, interaction_id: UUID) -> Row | None:
    return _row(await conn.fetchrow(Q["get_interaction"], interaction_id))


async def invitation_by_token(conn: Conn, token_hash: bytes) -> Row | None:
    return _row(await conn.fetchrow(Q["invitation_by_token"], token_hash))


async def invitation_by_id(conn: Conn, invitation_id: UUID) -> Row | None:
    return _row(await conn.fetchrow(Q["invitation_by_id"], invitation_id))


async def upsert_invited_response(
    conn: Conn,
    *,
    invitation: Row,
    score: int,
    comment: str | None,
    contact_requested: bool,
    channel: str,
    answered_at: datetime,
) -> Row | None:
    return _row(
        await conn.fetchrow(
            Q["upsert_invited_response"],
            invitation["id"],
            invitation["customer_id"],
            invitation["survey_id"],
            invitation["interaction_id"],
            invitation["kind"],
            score,
            comment,
            contact_requested,
            channel,
            invitation["touchpoint"],
            answered_at,
            invitation["answer_window"],
        )
    )


async def insert_response(
    conn: Conn,
    *,
    customer_id: UUID,
    survey: Row,
    score: int,
    comment: str | None,
    contact_requested: bool,
    answered_at: datetime,
) -> Row:
    row = await conn.fetchrow(
        Q["insert_response"],
        customer_id,
        survey["id"],
        survey["kind"],
        score,
        comment,
        contact_requested,
        answered_at,
        survey["answer_window"],
    )
    assert row is not None
    return dict(row)


async def answer_invitation(
    conn: Conn,
    *,
    token_hash: bytes | None = None,
    invitation_id: UUID | None = None,
    now: datetime,
    score: int,
    kinds: list[str],
    comment: str | None,
    contact_requested: bool,
    channel: str | None,
    answered_at: datetime,
    event_topic: str,
) -> Row | None:
    """The stored answer with the invitation's survey and locale, or None when nothing was written."""
    return _row(
        await conn.fetchrow(
            Q["answer_invitation"],
            token_hash,
            invitation_id,
            now,
            score,
            kinds,
            comment,
            contact_requested,
            channel,
            answered_at,
            event_topic,
        )
    )


async def record_api_response(
    conn: Conn,
    *,
    customer_id: UUID | None,
    customer_external_id: str | None,
    survey_key: str,
    kinds: list[str],
    score: int,
    comment: str | None,
    contact_requested: bool,
    answered_at: datetime,
    event_topic: str,
) -> Row | None:
    """The stored answer with its survey key, or None when nothing was written."""
    return _row(
        await conn.fetchrow(
            Q["record_api_response"],
            customer_id,
            customer_external_id,
            survey_key,
            kinds,
            score,
            comment,
            contact_requested,
            answered_at,
            event_topic,
        )
    )


async def response_by_invitation(conn: Conn, invitation_id: UUID) -> Row | None:
    return _row(await conn.fetchrow(Q["response_by_invitation"], invitation_id))


async def add_suppression(
    conn: Conn, *, channel: str, address: str, customer_id: UUID | None, reason: str
) -> int | None:
    """The new suppression's id, or None when the address was already opted out."""
    return await conn.fetchval(Q["add_suppression"], channel, address, customer_id, reason)


def days(interval: timedelta) -> float:
    return interval.total_seconds() / 86400
