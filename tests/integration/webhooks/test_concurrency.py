"""Many runners on one database: nothing sent twice at once, nothing lost, order kept per customer."""

import asyncio
import itertools
from collections import Counter, defaultdict
from datetime import timedelta
from uuid import uuid4

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient
from standardwebhooks import Webhook

from feedback_svc.db.pool import create_pool
from feedback_svc.settings import Settings
from feedback_svc.webhooks import queries
from feedback_svc.webhooks.delivery import WebhookDeliverer
from tests.integration.webhooks.conftest import deliveries, emit, fan_out, register
from tests.integration.webhooks.receiver import Receiver

CUSTOMERS = 8
EVENTS_EACH = 4


async def test_two_runners_in_two_pools_deliver_each_once_and_in_order_per_customer(
    client: AsyncTestClient[Litestar],
    admin: dict[str, str],
    settings: Settings,
    database_url: str,
    pool: asyncpg.Pool,
    conn: asyncpg.Connection,
    receiver: Receiver,
) -> None:
    endpoint = await register(client, admin, receiver.url)
    customers = [uuid4() for _ in range(CUSTOMERS)]
    expected: dict[str, list[str]] = defaultdict(list)
    for round_ in range(EVENTS_EACH):
        for customer in customers:
            event_id = await emit(conn, customer=customer, round=round_)
            expected[str(customer)].append(f"msg_{event_id}")
    await fan_out(pool)
    receiver.delay = 0.02  # requests in flight overlap between the runners
    receiver.answer(500, 500, 500)  # a few failures on the way (retried at once below)

    other_pool = await create_pool(settings, database_url)  # a second process, as far as the DB can tell
    try:
        runners = [
            WebhookDeliverer(
                p, allow_private=True, timeout=5, name=name, batch_size=5, schedule=[timedelta(0)] * 3
            )
            for p, name in ((pool, "runner-a"), (other_pool, "runner-b"))
        ]

        async def work(runner: WebhookDeliverer, own: asyncpg.Pool) -> int:
            claimed = 0
            async with runner.client() as http:
                for _ in range(200):
                    got = await runner.run_once(http)
                    claimed += got
                    if not got:
                        # through its own pool: both runners may ask at the same moment
                        if not await own.fetchval(
                            "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'"
                        ):
                            break
                        await asyncio.sleep(0.01)  # a runner's idle pause, as in the service: not a wait
            return claimed

        claims = await asyncio.gather(*(work(r, p) for r, p in zip(runners, (pool, other_pool), strict=True)))
    finally:
        await other_pool.close()

    total = CUSTOMERS * EVENTS_EACH
    assert sum(claims) == total + 3
    assert all(claimed > 0 for claimed in claims), claims  # both runners took part
    accepted = receiver.accepted()
    assert Counter(r.message_id for r in accepted) == Counter(m for ms in expected.values() for m in ms)
    for request in receiver.received:
        Webhook(endpoint["secret"]).verify(request.body, request.headers)

    # the same delivery never in flight twice at once
    by_message: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for request in receiver.received:
        by_message[request.message_id].append((request.started, request.finished))
    for spans in by_message.values():
        spans.sort()
        assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(spans))

    # per customer: accepted in event order, each one finished before the next began
    for customer, message_ids in expected.items():
        mine = [r for r in accepted if r.payload["data"]["customer_id"] == customer]  # type: ignore[index]
        assert [r.message_id for r in mine] == message_ids
        assert all(a.finished <= b.started for a, b in itertools.pairwise(mine))

    rows = await deliveries(conn)
    assert {r["status"] for r in rows} == {"succeeded"}
    assert {r["locked_by"] for r in rows} == {None}


async def test_an_abandoned_lease_returns_the_delivery_and_the_late_runner_cannot_settle_it(
    client: AsyncTestClient[Litestar],
    admin: dict[str, str],
    pool: asyncpg.Pool,
    conn: asyncpg.Connection,
    receiver: Receiver,
) -> None:
    await register(client, admin, receiver.url)
    await emit(conn)
    await fan_out(pool)
    [claimed] = await queries.claim_deliveries(pool, runner="crashed", limit=10, lease=timedelta(minutes=5))

    survivor = WebhookDeliverer(pool, allow_private=True, timeout=5, name="survivor")
    async with survivor.client() as http:
        assert await survivor.run_once(http) == 0  # leased: not claimed twice
        await conn.execute("UPDATE webhook_deliveries SET locked_until = now() - interval '1 second'")
        assert await survivor.run_once(http) == 1

    # the crashed runner wakes up and reports a failure: its lease is gone, so it changes nothing
    await queries.mark_retry(
        pool,
        delivery_id=claimed.id,
        runner="crashed",
        delay=timedelta(hours=1),
        status_code=500,
        error="late",
    )
    [row] = await deliveries(conn)
    assert (row["status"], row["attempts"], row["last_error"]) == ("succeeded", 2, None)
    assert len(receiver.received) == 1
