"""Many requests about one customer at once: no deadlock, no 5xx, and an erasure wins cleanly.

Every write about a customer locks the customer's row first (customers/locks.py); these tests
send what the CRM and the customer send at the same time for one customer to a real server
process, with as many database connections as requests in flight, so any two transactions
can meet. (The in-process test client runs one request at a time.)
"""

import asyncio
import itertools
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import KeyFactory
from tests.faults.processes import servers

Client = httpx.AsyncClient
CLIENTS = 16
ROUNDS = 12
# a connection per client in flight
SERVER_ENV = {"FEEDBACK_DB_POOL_MIN": str(CLIENTS), "FEEDBACK_DB_POOL_MAX": str(CLIENTS + 2)}


@pytest.fixture
async def client(database_url: str, tmp_path: Path) -> Any:
    with servers(database_url, 1, log_dir=tmp_path, env=SERVER_ENV) as [base]:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            yield http


Request = Callable[[int], Awaitable[httpx.Response]]


def writers(client: Client, crm: dict[str, str], customer_id: str, token: str) -> list[Request]:
    """Everything that can write about one customer, each numbered so no two collide by id."""
    start = datetime.now(UTC) - timedelta(days=30)

    def at(n: int) -> str:
        return (start + timedelta(minutes=n)).isoformat()

    return [
        lambda n: client.post(
            "/v1/interactions",
            json={
                "customer_id": customer_id,
                "touchpoint": "delivery",
                "occurred_at": at(n),
                "external_id": f"i-{n}",
            },
            headers=crm,
        ),
        lambda n: client.post(
            f"/v1/customers/{customer_id}/events",
            json={"kind": "purchase", "occurred_at": at(n), "value": 10.0, "external_id": f"e-{n}"},
            headers=crm,
        ),
        lambda n: client.post(
            "/v1/responses",
            json={"customer_id": customer_id, "survey": "csat", "score": 1 + n % 5, "comment": f"answer {n}"},
            headers=crm,
        ),
        lambda n: client.post(f"/s/{token}", data={"score": str(n % 11), "comment": f"edit {n}"}),
        lambda n: client.post(
            "/v1/invitations",
            json={"customer_id": customer_id, "survey": "nps", "channel": "email"},
            headers=crm,
        ),
        lambda n: client.post(
            "/v1/customers", json={"external_id": "crm-busy", "attributes": {"orders": n}}, headers=crm
        ),
        lambda n: client.post("/v1/scores", json={"items": [{"customer_id": customer_id}]}, headers=crm),
    ]


async def busy_customer(client: Client, crm: dict[str, str]) -> tuple[str, str]:
    created = await client.post(
        "/v1/customers",
        json={"external_id": "crm-busy", "email": "busy@example.com", "phone": "+4915112340000"},
        headers=crm,
    )
    assert created.status_code == 201, created.text
    customer_id = created.json()["id"]
    web = await client.post(
        "/v1/invitations", json={"customer_id": customer_id, "survey": "nps", "channel": "web"}, headers=crm
    )
    assert web.status_code == 201, web.text
    return customer_id, web.json()["survey_url"].rsplit("/", 1)[1]


async def run_clients(
    requests: list[Request], *, halfway: asyncio.Event | None = None, after: asyncio.Event | None = None
) -> Counter[int]:
    """CLIENTS clients, each sending every kind of request in turn, offset so kinds overlap.

    With `halfway` and `after`: `halfway` is set once half of the rounds are answered, and the
    clients go on until `after` is set, then send one more of each kind."""
    numbers = itertools.count()
    statuses: Counter[int] = Counter()
    total = CLIENTS * ROUNDS * len(requests)

    async def one_client(offset: int) -> None:
        step = 0
        while step < ROUNDS * len(requests) or (after is not None and not after.is_set()):
            answer = await requests[(offset + step) % len(requests)](next(numbers))
            statuses[answer.status_code] += 1
            step += 1
            if halfway is not None and statuses.total() >= total // 2:
                halfway.set()
        if after is not None:
            for kind in requests:
                answer = await kind(next(numbers))
                statuses[answer.status_code] += 1

    await asyncio.gather(*(one_client(k) for k in range(CLIENTS)))
    return statuses


async def test_concurrent_writes_for_one_customer_never_deadlock(
    client: Client, conn: asyncpg.Connection, crm: dict[str, str]
) -> None:
    customer_id, token = await busy_customer(client, crm)
    statuses = await run_clients(writers(client, crm, customer_id, token))

    assert sum(statuses.values()) == CLIENTS * ROUNDS * 7
    assert not [status for status in statuses if status >= 500], statuses
    # each kind of write went through many times: the test really overlapped them
    counts: dict[str, Any] = dict(
        await conn.fetchrow(
            "SELECT (SELECT count(*) FROM interactions) AS interactions, "
            "(SELECT count(*) FROM customer_events) AS events, "
            "(SELECT count(*) FROM responses WHERE channel = 'api') AS answers"
        )
    )
    assert counts == {
        "interactions": CLIENTS * ROUNDS,
        "events": CLIENTS * ROUNDS,
        "answers": CLIENTS * ROUNDS,
    }


async def test_an_erasure_amid_writes_wins_and_nothing_is_written_after_it(
    client: Client, conn: asyncpg.Connection, make_key: KeyFactory
) -> None:
    crm = await make_key("crm")
    customer_id, token = await busy_customer(client, crm)
    requests = writers(client, crm, customer_id, token)[:-2]  # an upsert would create a new customer
    halfway, after = asyncio.Event(), asyncio.Event()

    async def erase_halfway() -> tuple[httpx.Response, dict[str, int]]:
        await halfway.wait()
        erased = await client.delete(f"/v1/customers/{customer_id}", headers=crm)
        after.set()
        return erased, await stored_about(conn, customer_id)

    statuses, (erased, at_erasure) = await asyncio.gather(
        run_clients(requests, halfway=halfway, after=after), erase_halfway()
    )

    assert erased.status_code == 200, erased.text
    assert not [status for status in statuses if status >= 500], statuses
    assert statuses[410] > 0, statuses  # writes kept coming after the erasure and were refused
    # nothing was written once the erasure had committed, and no comment survived it
    assert await stored_about(conn, customer_id) == at_erasure
    assert at_erasure["comments"] == 0


async def stored_about(conn: asyncpg.Connection, customer_id: str) -> dict[str, int]:
    return dict(
        await conn.fetchrow(
            "SELECT (SELECT count(*) FROM interactions WHERE customer_id = $1) AS interactions, "
            "(SELECT count(*) FROM customer_events WHERE customer_id = $1) AS events, "
            "(SELECT count(*) FROM invitations WHERE customer_id = $1) AS invitations, "
            "(SELECT count(*) FROM responses WHERE customer_id = $1) AS responses, "
            "(SELECT count(*) FROM responses WHERE customer_id = $1 AND comment IS NOT NULL) AS comments",
            customer_id,
        )
    )
