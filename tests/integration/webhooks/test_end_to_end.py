"""From an answer through the API to a verified webhook, with the background runners the app uses."""

import asyncio

import asyncpg
import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient
from standardwebhooks import Webhook

from feedback_svc.background import background_runners, run_all
from feedback_svc.settings import Settings
from tests.integration.webhooks.conftest import register
from tests.integration.webhooks.receiver import Receiver
from tests.waiting import eventually


async def test_an_answer_reaches_the_crm_as_a_verified_response_created_webhook(
    client: AsyncTestClient[Litestar],
    admin: dict[str, str],
    crm: dict[str, str],
    settings: Settings,
    pool: asyncpg.Pool,
    conn: asyncpg.Connection,
    receiver: Receiver,
) -> None:
    endpoint = await register(client, admin, receiver.url, "response.created", "customer.opted_out")
    customer = await client.post(
        "/v1/customers",
        json={"external_id": "crm-77", "email": "ana@example.com", "time_zone": "Europe/Berlin"},
        headers=crm,
    )
    assert customer.status_code == 201, customer.text
    answer = await client.post(
        "/v1/responses",
        json={"customer_id": customer.json()["id"], "survey": "nps", "score": 9, "comment": "quick"},
        headers=crm,
    )
    assert answer.status_code == 201, answer.text

    async def received() -> int:
        return len(receiver.received)

    stop = asyncio.Event()
    async with httpx.AsyncClient() as http:
        runners = background_runners(pool, settings, http=http)
        assert "webhook-deliverer" in runners
        work = asyncio.create_task(run_all(runners, stop))
        try:
            await eventually(received, what="the receiver to get a webhook")
        finally:
            stop.set()
            await asyncio.wait_for(work, timeout=15)

    [request] = receiver.received
    payload = Webhook(endpoint["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "response.created"
    assert payload["data"]["id"] == answer.json()["id"]
    assert payload["data"]["customer_id"] == customer.json()["id"]
    assert payload["data"]["customer_external_id"] == customer.json()["external_id"]
    assert (payload["data"]["score"], payload["data"]["comment"]) == (9, "quick")
    status = await conn.fetchval("SELECT status FROM webhook_deliveries")
    assert status == "succeeded"
