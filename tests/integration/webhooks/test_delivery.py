"""Deliveries to a real receiver on 127.0.0.1, each checked with the standardwebhooks package's verifier."""

import time
from datetime import timedelta
from typing import Any
from uuid import uuid4

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from feedback_svc.outbox.events import Event
from feedback_svc.webhooks.delivery import WebhookDeliverer
from feedback_svc.webhooks.service import fan_out_event
from tests.integration.webhooks.conftest import deliveries, emit, fan_out, register
from tests.integration.webhooks.receiver import HANG, Receiver

NO_WAIT = (timedelta(0),) * 3


def deliverer(pool: asyncpg.Pool, **options: Any) -> WebhookDeliverer:
    options.setdefault("allow_private", True)
    options.setdefault("timeout", 5.0)
    return WebhookDeliverer(pool, **options)


async def drain(runner: WebhookDeliverer) -> int:
    total = 0
    async with runner.client() as http:
        while claimed := await runner.run_once(http):
            total += claimed
    return total


def verified(receiver: Receiver, secret: str) -> list[dict[str, Any]]:
    """Every request the receiver got, verified; raises if one fails verification."""
    return [Webhook(secret).verify(r.body, r.headers) for r in receiver.received]


async def test_a_delivery_is_signed_per_standard_webhooks_and_verifies(
    client: AsyncTestClient[Litestar],
    admin: dict[str, str],
    pool: asyncpg.Pool,
    conn: asyncpg.Connection,
    receiver: Receiver,
) -> None:
    endpoint = await register(client, admin, receiver.url, "response.created")
    customer = uuid4()
    event_id = await emit(conn, customer=customer, score=3)

    assert await fan_out(pool) == 1
    assert await drain(deliverer(pool)) == 1

    [request] = receiver.received
    payload = Webhook(endpoint["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "response.created"
    # a customer the database does not know has no CRM id to add
    assert payload["data"] == {"customer_id": str(customer), "customer_external_id": None, "score": 3}
    assert payload["timestamp"].endswith("Z")
    assert request.message_id == f"msg_{event_id}"
    assert request.headers["content-type"] == "application/json"
    assert request.path == "/hooks/crm"
    # a different secret does not verify: the signature really depends on it
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 44).verify(request.body, request.headers)
    [row] = await deliveries(conn)
    assert (row["status"], row["attempts"], row["last_status_code"]) == ("succeeded", 1, 204)
    assert row["delivered_at"] is not None


async def test_a_failure_is_retried_with_backoff_and_then_succeeds(
    client: AsyncTestClient[Litestar],
    admin: dict[str, str],
    pool: asyncpg.Pool,
    conn: asyncpg.Connection,
    receiver: Receiver,
) -> None:
    endpoint = await register(client, admin, receiver.url)
    await emit(conn)
    await fan_out(pool)
    receiver.answer(500)
    runner = deliverer(pool)

    assert await drain(runner) == 1
    row = (await deliveries(conn))[0]
    assert (row["status"], row["attempts"], row["last_status_code"], row["last_error"]) == (
        "pending",
        1,
        500,
        "HTTP 500",
    )
    wait = await conn.fetchval("SELECT next_attempt_at - now() FROM webhook_deliveries")
    # 5 s after the first failure, give or take 20% jitter
    assert timedelta(seconds=3.9) <= wait <= timedelta(seconds=6.1)
    assert await drain(runner) == 0, "not due yet"

    await conn.execute("UPDATE webhook_deliveries SET next_attempt_at = now()")
    assert await drain(runner) == 1
    row = (await deliveries(conn))[0]
    assert (row["status"], row["attempts"], row["last_status_code"], row["last_error"]) == (
        "succeeded",
        2,
        204,
        None,
    )
    first, second = verified(receiver, endpoint["secret"])
    assert first == second
    assert receiver.received[0].message_id == receiver.received[1].message_id


async def test_a_receiver_that_hangs_past_the_timeout_counts_as_a_failure(
    client: AsyncTestClient[Litestar],
    admin: dict[str, str],
    pool: asyncpg.Pool,
    conn: asyncpg.Connection,
    receiver: Receiver,
) -> None:
    await register(client, admin, receiver.url)
    await emit(conn)
    await fan_out(pool)
    receiver.answer(HANG)

    started = time.monotonic()
    assert await drain(deliverer(pool, timeout=0.5)) == 1
    assert time.monotonic() - started < 3

    [row] = await deliveries(conn)
    assert (row["status"], row["attempts"], row["last_status_code"]) == ("pending", 1, None)
    assert row["last_error"] == "no answer within 0.5 s"


async def test_410_gone_disables_the_endpoint_and_stops_its_pending_deliveries(
    client: AsyncTestClient[Litestar],
    admin: dict[str, str],
    pool: asyncpg.Pool,
    conn: asyncpg.Connection,
    receiver: Receiver,
) -> None:
    endpoint = await register(client, admin, receiver.url)
    customer = uuid4()
    for _ in range(3):
        await emit(conn, customer=customer)
    await fan_out(pool)
    receiver.answer(410)

    assert await drain(deliverer(pool)) == 1  # the others wait behind the first, in order
    assert [r["status"] for r in await deliveries(conn)] == ["disabled"] * 3
    assert [r["last_status_code"] for r in await deliveries(conn)] == [410, None, None]
    shown = (await client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=admin)).json()
    assert shown["enabled"] is False
    assert "410" in shown["disabled_reason"]

    # nothing more is sent, and new events no longer fan out to it
    await emit(conn, customer=customer)
    await fan_out(pool)
    assert await drain(deliverer(pool)) == 0
    assert len(await deliveries(conn)) == 3
    assert len(receiver.received) == 1


async def test_out_of_attempts_fails_keeps_it_for_inspection_and_replay_sends_it(
    client: AsyncTestClient[Litestar],
    admin: dict[str, str],
    pool: asyncpg.Pool,
    conn: asyncpg.Connection,
    receiver: Receiver,
) -> None:
    endpoint = await register(client, admin, receiver.url)
    customer = uuid4()
    first_event = await emit(conn, customer=customer, n=1)
    await emit(conn, customer=customer, n=2)
    await fan_out(pool)
    receiver.answer(500, 502, 503)

    # three attempts (two retries), then failed; the next delivery for the customer then goes
    assert await drain(deliverer(pool, schedule=NO_WAIT[:2])) == 4
    failed, sent = await deliveries(conn)
    assert (failed["status"], failed["attempts"], failed["last_status_code"]) == ("failed", 3, 503)
    assert sent["status"] == "succeeded"

    listed = await client.get(
        f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", params={"status": "failed"}, headers=admin
    )
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert (item["id"], item["message_id"], item["last_error"]) == (
        failed["id"],
        f"msg_{first_event}",
        "HTTP 503",
    )
    assert item["payload"]["data"]["n"] == 1

    replay = await client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/{failed['id']}/replay", headers=admin
    )
    assert replay.status_code == 202, replay.text
    assert (replay.json()["status"], replay.json()["attempts"]) == ("pending", 0)
    assert await drain(deliverer(pool)) == 1
    assert (await deliveries(conn))[0]["status"] == "succeeded"
    assert receiver.received[-1].message_id == f"msg_{first_event}"
    assert len(verified(receiver, endpoint["secret"])) == 5


async def test_deliveries_for_one_customer_go_in_order_even_across_failures(
    client: AsyncTestClient[Litestar],
    admin: dict[str, str],
    pool: asyncpg.Pool,
    conn: asyncpg.Connection,
    receiver: Receiver,
) -> None:
    await register(client, admin, receiver.url)
    alice, bob = uuid4(), uuid4()
    a1 = await emit(conn, customer=alice)
    a2 = await emit(conn, customer=alice)
    b1 = await emit(conn, customer=bob)
    await fan_out(pool)
    # alice's first fails, whether bob's or hers reaches the CRM first (they go side by side)
    receiver.answer_for(f"msg_{a1}", 500)
    runner = deliverer(pool)

    assert await drain(runner) == 2  # alice's first (fails) and bob's; alice's second waits
    assert [r.message_id for r in receiver.accepted()] == [f"msg_{b1}"]
    assert await drain(runner) == 0
    # alice's later deliveries, queued or new, are not due before her first one's retry
    a3 = await emit(conn, customer=alice)
    await fan_out(pool)
    due = dict(
        await conn.fetch(
            "SELECT message_id, next_attempt_at FROM webhook_deliveries WHERE status = 'pending'"
        )
    )
    assert due[f"msg_{a1}"] == due[f"msg_{a2}"] == due[f"msg_{a3}"]

    await conn.execute(
        "UPDATE webhook_deliveries SET next_attempt_at = now() WHERE message_id = $1", f"msg_{a1}"
    )
    # once the first goes through, the ones held back behind it are due at once
    assert await drain(runner) == 3
    assert [r.message_id for r in receiver.accepted()] == [f"msg_{b1}", f"msg_{a1}", f"msg_{a2}", f"msg_{a3}"]


async def test_a_delivery_waits_for_an_earlier_event_of_the_customer_not_yet_fanned_out(
    client: AsyncTestClient[Litestar],
    admin: dict[str, str],
    pool: asyncpg.Pool,
    conn: asyncpg.Connection,
    receiver: Receiver,
) -> None:
    await register(client, admin, receiver.url)
    customer = uuid4()
    first = await emit(conn, customer=customer)
    second = await emit(conn, customer=customer)
    # the second event is fanned out first (say the first one's consumers failed and it waits)
    async with conn.transaction():
        await fan_out_event(
            conn, Event(id=second, type="response.created", data={"customer_id": str(customer)})
        )
    assert await drain(deliverer(pool)) == 0

    await fan_out(pool)
    assert await drain(deliverer(pool)) == 2
    assert [r.message_id for r in receiver.received] == [f"msg_{first}", f"msg_{second}"]


async def test_fan_out_is_idempotent_and_only_reaches_enabled_subscribed_endpoints(
    client: AsyncTestClient[Litestar],
    admin: dict[str, str],
    pool: asyncpg.Pool,
    conn: asyncpg.Connection,
    receiver: Receiver,
) -> None:
    both = await register(client, admin, receiver.url, "response.created", "task.created")
    tasks_only = await register(client, admin, receiver.url, "task.created")
    await register(client, admin, receiver.url, "task.created", enabled=False)
    responses_only = await register(client, admin, receiver.url, "response.created")
    customer = uuid4()
    event = Event(id=await emit(conn, "task.created", customer=customer), type="task.created", data={})

    for _ in range(3):  # the outbox may hand the same event over again
        async with conn.transaction():
            await fan_out_event(conn, event)
    await fan_out(pool)  # and once more through the worker itself

    rows = await deliveries(conn)
    assert sorted(str(r["endpoint_id"]) for r in rows) == sorted([both["id"], tasks_only["id"]])
    assert {r["message_id"] for r in rows} == {f"msg_{event.id}"}
    assert {r["ordering_key"] for r in rows} == {str(customer)}
    assert responses_only["id"] not in {str(r["endpoint_id"]) for r in rows}

    # an event type no endpoint can subscribe to is ignored
    await emit(conn, "score.created")
    await fan_out(pool)
    assert len(await deliveries(conn)) == 2


async def test_a_private_target_is_refused_again_at_delivery_time(
    client: AsyncTestClient[Litestar],
    admin: dict[str, str],
    pool: asyncpg.Pool,
    conn: asyncpg.Connection,
    receiver: Receiver,
) -> None:
    # registered while private targets were allowed (or a name that later resolves inside)
    await register(client, admin, receiver.url.replace("127.0.0.1", "localhost"))
    await emit(conn)
    await fan_out(pool)

    assert await drain(deliverer(pool, allow_private=False)) == 1
    assert receiver.received == []
    [row] = await deliveries(conn)
    assert row["status"] == "pending"
    assert row["last_error"].startswith("ConnectError: refused: localhost is or resolves to")
    assert "loopback" in row["last_error"]


async def test_after_a_rotation_both_secrets_verify_for_a_while(
    client: AsyncTestClient[Litestar],
    admin: dict[str, str],
    pool: asyncpg.Pool,
    conn: asyncpg.Connection,
    receiver: Receiver,
) -> None:
    endpoint = await register(client, admin, receiver.url)
    rotated = await client.post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=admin)
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    assert new_secret != endpoint["secret"]
    await emit(conn)
    await fan_out(pool)
    await drain(deliverer(pool))

    [request] = receiver.received
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(new_secret).verify(request.body, request.headers)
    Webhook(endpoint["secret"]).verify(request.body, request.headers)

    # once the overlap is over only the new secret signs
    await conn.execute("UPDATE webhook_endpoints SET previous_secret_until = now() - interval '1 second'")
    await emit(conn)
    await fan_out(pool)
    await drain(deliverer(pool))
    latest = receiver.received[-1]
    Webhook(new_secret).verify(latest.body, latest.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint["secret"]).verify(latest.body, latest.headers)
