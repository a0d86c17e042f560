"""Recovery fixtures: a pool, keys, customers, answers and a way to drain the outbox."""

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.outbox.events import Event
from feedback_svc.outbox.handlers import outbox_handlers
from feedback_svc.outbox.worker import OutboxWorker
from feedback_svc.settings import Settings
from tests.conftest import KeyFactory


@pytest.fixture
async def agent(make_key: KeyFactory) -> dict[str, str]:
    return await make_key("agent", name="agent-key")


async def drain(pool: asyncpg.Pool, settings: Settings) -> None:
    """Run the real outbox wiring until nothing is left to do right now."""
    async with httpx.AsyncClient() as http:
        worker = OutboxWorker(pool, outbox_handlers(pool, settings, http=http), name="test")
        while await worker.run_once():
            pass


async def insert_customer(conn: asyncpg.Connection, *, value: float = 1000.0) -> UUID:
    return await conn.fetchval(
        "INSERT INTO customers (external_id, value) VALUES ($1, $2) RETURNING id",
        f"c-{secrets.token_hex(5)}",
        value,
    )


async def answer(
    client: AsyncTestClient[Litestar],
    crm: dict[str, str],
    customer_id: UUID,
    *,
    survey: str,
    score: int,
    contact: bool = False,
) -> dict[str, Any]:
    response = await client.post(
        "/v1/responses",
        json={
            "customer_id": str(customer_id),
            "survey": survey,
            "score": score,
            "contact_requested": contact,
        },
        headers=crm,
    )
    assert response.status_code == 201, response.text
    return response.json()


def response_event(response: dict[str, Any], *, event_id: int = 1, **changes: Any) -> Event:
    return Event(id=event_id, type="response.created", data={**response, **changes})


async def insert_task(
    conn: asyncpg.Connection,
    customer_id: UUID,
    *,
    priority: float = 50.0,
    trigger: str = "nps_detractor",
    touchpoint: str | None = None,
    deadline_at: datetime | None = None,
    control: bool = False,
) -> UUID:
    return await conn.fetchval(
        """INSERT INTO recovery_tasks (customer_id, trigger, touchpoint, priority, deadline_at, control)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING id""",
        customer_id,
        trigger,
        touchpoint,
        priority,
        deadline_at or datetime.now(UTC) + timedelta(hours=24),
        control,
    )


async def events_of(conn: asyncpg.Connection, kind: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT payload FROM outbox WHERE topic = 'event' AND payload->>'type' = $1 ORDER BY id", kind
    )
    return [row["payload"]["data"] for row in rows]
