"""Group commit (lib/group_commit.py) and the grouped customer upsert (customers/grouped.py)."""

import asyncio
from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.customers import grouped
from feedback_svc.customers.service import MAX_ATTRIBUTES
from feedback_svc.lib.group_commit import RETRY, GroupCommit
from tests.waiting import eventually


class HeldWrites:
    """Writes that return their numbers from the database, holding the lane on request."""

    def __init__(self) -> None:
        self.statements: list[list[int]] = []
        self.release = asyncio.Event()
        self.hold = False

    async def took_first(self) -> bool:
        return self.statements == [[1]]

    async def one(self, conn: asyncpg.Connection, item: int) -> int:
        return (await self.many(conn, [item]))[0]

    async def many(self, conn: asyncpg.Connection, items: Sequence[int]) -> list[int]:
        self.statements.append(list(items))
        if self.hold:
            await self.release.wait()
        return list(await conn.fetchval("SELECT array_agg(10 / n) FROM unnest($1::int[]) AS n", list(items)))

    def group(self, pool: asyncpg.Pool) -> GroupCommit[int, int]:
        return GroupCommit(pool, one=self.one, many=self.many, lanes=1)

    async def queue_behind_the_first(
        self, group: GroupCommit[int, int], *items: int
    ) -> list[asyncio.Task[Any]]:
        """Hold the lane with a write of 1, then queue `items` behind it."""
        self.hold = True
        first = asyncio.create_task(group.write(1))
        await eventually(self.took_first, what="the first write to take the lane")
        queued = [asyncio.create_task(group.write(item)) for item in items]
        await eventually(lambda: _now(group.waiting == len(items)), what="the writes to queue")
        self.hold = False
        self.release.set()
        return [first, *queued]


async def _now(value: bool) -> bool:
    return value


async def test_writes_that_queue_behind_a_busy_lane_share_the_next_statement(pool: asyncpg.Pool) -> None:
    writes = HeldWrites()
    group = writes.group(pool)
    tasks = await writes.queue_behind_the_first(group, 2, 5, 10)
    assert await asyncio.gather(*tasks) == [10, 5, 2, 1]
    assert writes.statements == [[1], [2, 5, 10]]  # one statement for the three that waited
    await group.close()


async def test_a_refused_group_tells_each_write_to_go_alone(pool: asyncpg.Pool) -> None:
    writes = HeldWrites()
    group = writes.group(pool)
    tasks = await writes.queue_behind_the_first(group, 5, 0)
    assert await asyncio.gather(*tasks) == [10, RETRY, RETRY]  # division by zero: nothing written
    with pytest.raises(asyncpg.DivisionByZeroError):
        await group.write(0)  # alone, a write fails as its own statement would
    assert await group.write(5) == 2  # and the lane goes on
    await group.close()


async def test_closing_fails_what_is_queued(pool: asyncpg.Pool) -> None:
    writes = HeldWrites()
    group = writes.group(pool)
    writes.hold = True
    held = asyncio.create_task(group.write(1))
    await eventually(writes.took_first, what="the first write to take the lane")
    queued = asyncio.create_task(group.write(2))
    await eventually(lambda: _now(group.waiting == 1), what="the write to queue")
    await group.close()
    for task in (held, queued):
        with pytest.raises(RuntimeError, match="shutting down"):
            await task
    with pytest.raises(RuntimeError, match="shutting down"):
        await group.write(3)


async def test_a_group_upserts_row_by_row_and_leaves_what_it_cannot_write(conn: asyncpg.Connection) -> None:
    full = {f"k{n}": n for n in range(MAX_ATTRIBUTES)}
    await conn.execute(
        "INSERT INTO customers (external_id, email, attributes) VALUES "
        "('crm-old', 'old@example.com', '{\"plan\": \"pro\"}'), ('crm-full', NULL, $1)",
        full,
    )
    upserts: list[tuple[str, dict[str, Any]]] = [
        ("crm-new", {"email": "new@example.com", "attributes": {"seats": 3}}),
        ("crm-old", {"segment": "enterprise", "attributes": {"plan": None, "seats": 9}}),
        ("crm-new", {"name": "Second"}),  # the same id again: left to the one-by-one path
        ("crm-full", {"attributes": {"one_more": 1}}),  # would pass the limit: left unchanged
    ]
    results = await grouped._write(conn, upserts)

    created, updated, again, refused = results
    assert created is not None
    assert created[1] is True
    assert created[0].external_id == "crm-new"
    assert created[0].email == "new@example.com"
    assert created[0].attributes == {"seats": 3}
    assert created[0].name is None
    assert updated is not None
    assert updated[1] is False
    assert updated[0].email == "old@example.com"  # not sent: kept
    assert updated[0].segment == "enterprise"
    assert updated[0].attributes == {"seats": 9}  # merged; null removed the plan
    assert again is None
    assert refused is None
    assert await conn.fetchval("SELECT name FROM customers WHERE external_id = 'crm-new'") is None
    assert await conn.fetchval("SELECT attributes FROM customers WHERE external_id = 'crm-full'") == full


async def test_concurrent_creates_each_get_their_own_customer(
    client: AsyncTestClient[Litestar], crm: dict[str, str]
) -> None:
    bodies = [{"external_id": f"crm-{n}", "value": n, "attributes": {"n": n}} for n in range(40)]

    async def send_all() -> list[Any]:
        return await asyncio.gather(
            *(client.post("/v1/customers", json=body, headers=crm) for body in bodies)
        )

    created = await send_all()
    assert [response.status_code for response in created] == [201] * 40
    for body, response in zip(bodies, created, strict=True):
        assert {key: response.json()[key] for key in body} == body
    assert len({response.json()["id"] for response in created}) == 40

    again = await send_all()
    assert [response.status_code for response in again] == [200] * 40
    assert [r.json()["id"] for r in again] == [r.json()["id"] for r in created]


async def test_a_refusal_among_concurrent_upserts_is_answered_alone(
    client: AsyncTestClient[Litestar], crm: dict[str, str]
) -> None:
    full = {f"k{n}": n for n in range(MAX_ATTRIBUTES)}
    assert (
        await client.post("/v1/customers", json={"external_id": "full", "attributes": full}, headers=crm)
    ).status_code == 201
    bodies = [{"external_id": f"crm-{n}"} for n in range(10)]
    bodies.insert(5, {"external_id": "full", "attributes": {"one_more": 1}})
    responses = await asyncio.gather(
        *(client.post("/v1/customers", json=body, headers=crm) for body in bodies)
    )
    statuses = [response.status_code for response in responses]
    assert statuses == [201] * 5 + [422] + [201] * 5
    assert f"at most {MAX_ATTRIBUTES} are kept per customer" in responses[5].json()["detail"]
