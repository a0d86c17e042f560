"""Typed wrappers over recovery/queries.sql."""

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


async def list_rules(conn: Conn) -> list[Row]:
    return [dict(row) for row in await conn.fetch(Q["list_rules"])]


async def update_rule(
    conn: Conn,
    *,
    trigger: str,
    enabled: bool,
    urgency: float,
    deadline: timedelta,
    critical_deadline: timedelta,
    high_value_deadline: timedelta,
) -> Row | None:
    return _row(
        await conn.fetchrow(
            Q["update_rule"], trigger, enabled, urgency, deadline, critical_deadline, high_value_deadline
        )
    )


async def customer_value(conn: Conn, customer_id: UUID) -> Row | None:
    return _row(await conn.fetchrow(Q["customer_value"], customer_id))


async def latest_score(conn: Conn, customer_id: UUID) -> Row | None:
    return _row(await conn.fetchrow(Q["latest_score"], customer_id))


async def score_exists(conn: Conn, *, score_id: int, customer_id: UUID) -> bool:
    return bool(await conn.fetchval(Q["score_exists"], score_id, customer_id))


async def response_exists(conn: Conn, *, response_id: UUID, customer_id: UUID) -> bool:
    return bool(await conn.fetchval(Q["response_exists"], response_id, customer_id))


async def touchpoint_critical(conn: Conn, key: str) -> bool:
    return bool(await conn.fetchval(Q["touchpoint_critical"], key))


async def evidence_seen(conn: Conn, *, response_id: UUID | None, score_id: int | None, trigger: str) -> bool:
    return bool(await conn.fetchval(Q["evidence_seen"], response_id, score_id, trigger))


async def upsert_open_task(
    conn: Conn,
    *,
    customer_id: UUID,
    trigger: str,
    touchpoint: str | None,
    critical: bool,
    deadline_at: datetime,
    control: bool,
) -> Row:
    row = await conn.fetchrow(
        Q["upsert_open_task"], customer_id, trigger, touchpoint, critical, deadline_at, control
    )
    assert row is not None
    return dict(row)


async def insert_evidence(
    conn: Conn,
    *,
    task_id: UUID,
    trigger: str,
    response_id: UUID | None,
    score_id: int | None,
    details: dict[str, Any],
) -> int | None:
    return await conn.fetchval(Q["insert_evidence"], task_id, trigger, response_id, score_id, details)


async def delete_task(conn: Conn, task_id: UUID) -> None:
    await conn.execute(Q["delete_task"], task_id)


async def task_signals(conn: Conn, task_id: UUID) -> list[Row]:
    return [dict(row) for row in await conn.fetch(Q["task_signals"], task_id)]


async def reprioritise_task(
    conn: Conn,
    *,
    task_id: UUID,
    trigger: str,
    touchpoint: str | None,
    critical: bool,
    priority: float,
    reasons: list[dict[str, object]],
    value_at_risk: float,
    deadline_at: datetime,
    lift_control: bool,
) -> Row:
    row = await conn.fetchrow(
        Q["reprioritise_task"],
        task_id,
        trigger,
        touchpoint,
        critical,
        priority,
        reasons,
        value_at_risk,
        deadline_at,
        lift_control,
    )
    assert row is not None
    return dict(row)


async def insert_history(
    conn: Conn, *, task_id: UUID, actor: str, action: str, details: dict[str, Any]
) -> None:
    await conn.execute(Q["insert_history"], task_id, actor, action, details)


async def list_tasks(
    conn: Conn,
    *,
    status: str | None,
    trigger: str | None,
    touchpoint: str | None,
    assignee: str | None,
    overdue: bool | None,
    customer_id: UUID | None,
    escalated: bool | None = None,
    after: tuple[float, UUID] | None,
    limit: int,
    theme: int | None = None,
) -> list[Row]:
    priority, last_id = after if after else (None, None)
    rows = await conn.fetch(
        Q["list_tasks"],
        status,
        trigger,
        touchpoint,
        assignee,
        overdue,
        customer_id,
        priority,
        last_id,
        limit,
        theme,
        escalated,
    )
    return [dict(row) for row in rows]


async def get_task(conn: Conn, task_id: UUID) -> Row | None:
    return _row(await conn.fetchrow(Q["get_task"], task_id))


async def task_evidence(conn: Conn, task_id: UUID) -> list[Row]:
    return [dict(row) for row in await conn.fetch(Q["task_evidence"], task_id)]


async def task_history(conn: Conn, task_id: UUID) -> list[Row]:
    return [dict(row) for row in await conn.fetch(Q["task_history"], task_id)]


async def claim_task(
    conn: Conn, *, holder: str, agent: str | None, lease: timedelta, key_name: str | None
) -> Row | None:
    return _row(await conn.fetchrow(Q["claim_task"], holder, lease, key_name, agent))


async def lease_state(conn: Conn, task_id: UUID) -> Row | None:
    return _row(await conn.fetchrow(Q["lease_state"], task_id))


async def extend_lease(
    conn: Conn, *, task_id: UUID, token: UUID, lease: timedelta, actor: str, details: dict[str, Any]
) -> Row | None:
    return _row(await conn.fetchrow(Q["extend_lease"], task_id, token, lease, actor, details))


async def release_lease(
    conn: Conn, *, task_id: UUID, token: UUID, actor: str, details: dict[str, Any]
) -> Row | None:
    return _row(await conn.fetchrow(Q["release_lease"], task_id, token, actor, details))


async def add_note(
    conn: Conn, *, task_id: UUID, token: UUID, actor: str, details: dict[str, Any]
) -> Row | None:
    return _row(await conn.fetchrow(Q["add_note"], task_id, token, actor, details))


async def record_contact(
    conn: Conn, *, task_id: UUID, token: UUID, actor: str, details: dict[str, Any]
) -> Row | None:
    return _row(await conn.fetchrow(Q["record_contact"], task_id, token, actor, details))


async def resolve_task(
    conn: Conn,
    *,
    task_id: UUID,
    token: UUID,
    outcome: str,
    root_cause: str,
    actor: str,
    details: dict[str, Any],
    pulse_after: timedelta | None,
) -> Row | None:
    return _row(
        await conn.fetchrow(
            Q["resolve_task"], task_id, token, outcome, root_cause, actor, details, pulse_after
        )
    )


async def assign_task(
    conn: Conn,
    *,
    task_id: UUID,
    assignee: str | None,
    token: UUID | None,
    hand_over: bool,
    actor: str,
    details: dict[str, Any],
) -> Row | None:
    return _row(await conn.fetchrow(Q["assign_task"], task_id, assignee, actor, details, token, hand_over))


async def known_agent(conn: Conn, name: str) -> str | None:
    return await conn.fetchval(Q["known_agent"], name)


async def reopen_task(
    conn: Conn, *, task_id: UUID, deadline: timedelta, actor: str, details: dict[str, Any]
) -> Row | None:
    return _row(await conn.fetchrow(Q["reopen_task"], task_id, deadline, actor, details))


async def escalate_overdue(conn: Conn, *, limit: int, points: float) -> list[Row]:
    return [dict(row) for row in await conn.fetch(Q["escalate_overdue"], limit, points)]


async def raise_priority(conn: Conn, task_id: UUID, *, points: float, reason: dict[str, object]) -> Row:
    row = await conn.fetchrow(Q["raise_priority"], task_id, points, reason)
    assert row is not None
    return dict(row)


async def mark_deadline_near(conn: Conn, *, limit: int, within: timedelta) -> list[Row]:
    return [dict(row) for row in await conn.fetch(Q["mark_deadline_near"], limit, within)]


async def close_control_tasks(conn: Conn, *, limit: int, pulse_after: timedelta | None) -> list[Row]:
    return [dict(row) for row in await conn.fetch(Q["close_control_tasks"], limit, pulse_after)]


async def effectiveness(conn: Conn, *, since: datetime | None, until: datetime | None) -> list[Row]:
    return [dict(row) for row in await conn.fetch(Q["effectiveness"], since, until)]


async def promise_kept(conn: Conn, *, since: datetime | None, until: datetime | None) -> Row:
    row = await conn.fetchrow(Q["promise_kept"], since, until)
    assert row is not None
    return dict(row)


async def score_change(
    conn: Conn, *, since: datetime | None, until: datetime | None, after: timedelta
) -> list[Row]:
    return [dict(row) for row in await conn.fetch(Q["score_change"], since, until, after)]
