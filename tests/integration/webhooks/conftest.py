from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.outbox.events import EVENT_TOPIC, emit_event, event_handler
from feedback_svc.outbox.worker import OutboxWorker
from feedback_svc.settings import Settings
from feedback_svc.webhooks.service import fan_out_event
from tests.conftest import KeyFactory
from tests.integration.webhooks.receiver import Receiver, running_receiver


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # the receiver listens on 127.0.0.1; the SSRF tests build their own settings with this off
    return msgspec.structs.replace(settings, webhooks_allow_private=True)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
async def admin(make_key: KeyFactory) -> dict[str, str]:
    return await make_key("admin", name="admin")


async def register(
    client: AsyncTestClient[Litestar], admin: dict[str, str], url: str, *event_types: str, **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/webhook-endpoints",
        json={"url": url, "event_types": list(event_types or ["response.created"]), **extra},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def emit(
    conn: asyncpg.Connection, type: str = "response.created", *, customer: UUID | None = None, **data: Any
) -> int:
    customer = customer or uuid4()
    event_id = await emit_event(
        conn, type=type, data={"customer_id": str(customer), **data}, ordering_key=str(customer)
    )
    assert event_id is not None
    return event_id


async def fan_out(pool: asyncpg.Pool) -> int:
    """Run the real outbox worker over the event topic with the webhook consumer alone."""
    worker = OutboxWorker(pool, {EVENT_TOPIC: event_handler(pool, [fan_out_event])}, batch_size=100)
    total = 0
    while claimed := await worker.run_once():
        total += claimed
    return total


async def deliveries(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    # in the order of the events: the fan-out runs a batch of events side by side, so delivery ids
    # need not follow them
    return await conn.fetch("SELECT * FROM webhook_deliveries ORDER BY event_id, endpoint_id, id")
