"""Group commit (lib/group_commit.py) and the grouped customer upsert (customers/grouped.py)."""

import asyncio
from collections.abc import Sequence
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.customers import grouped
from feedback_svc.customers.service import MAX_ATTRIBUTES
from feedback_svc.lib.group_commit import GroupCommit
from tests.waiting import eventually


class HeldWrites:
    """A write that stores its items and answers each with its number, holding groups on request."""

    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.release = asyncio.Event()
        self.hold = False

    async def took_first(self) -> bool:
        return self.groups == [[1]]

    async def __call__(self, conn: asyncpg.Connection, items: Sequence[int]) -> list[int | None]:
        self.groups.append(list(items))
        if self.hold:
            await self.release.wait()
        stored = await conn.fetch("SELECT n FROM unnest($1::int[]) AS n WHERE n >= 0", list(items))
        written = {row["n"] for row in stored}
        return [n if n in written else None for n in items]


async def test_writes_that_queue_behind_a_busy_lane_share_the_next_statement(pool: asyncpg.Pool) -> None:
    write = HeldWrites()
    group: GroupCommit[int, int] = GroupCommit(pool, write, name="test", lanes=1)
    write.hold = True
    first = asyncio.create_task(group.submit(1))
    await eventually(write.took_first, what="the first write to take the lane")
    queued = [asyncio.create_task(group.submit(n)) for n in (2, 3, 4)]
    await asyncio.sleep(0)  # one turn of the loop: each task runs up to its await, having queued
    write.hold = False
    write.release.set()
    assert await first == 1
    assert await asyncio.gather(*queued) == [2, 3, 4]
    assert write.groups == [[1], [2, 3, 4]]  # one statement for the three that waited
    await group.close()


async def test_an_item_the_statement_left_alone_is_handed_back(pool: asyncpg.Pool) -> None:
    write = HeldWrites()
    group: GroupCommit[int, int] = GroupCommit(pool, write, name="test", lanes=1)
    assert await asyncio.gather(group.submit(5), group.submit(-1), group.submit(6)) == [5, None, 6]
    await group.close()


async def test_a_failing_statement_hands_every_item_back_and_the_lane_goes_on(pool: asyncpg.Pool) -> None:
    calls: list[list[int]] = []

    async def divide(conn: asyncpg.Connection, items: Sequence[int]) -> list[int | None]:
        calls.append(list(items))
        return list(await conn.fetchval("SELECT array_agg(10 / n) FROM unnest($1::int[]) AS n", list(items)))

    group: GroupCommit[int, int] = GroupCommit(pool, divide, name="test", lanes=1)
    assert await group.submit(0) is None  # division by zero: nothing written, the caller writes it
    assert await group.submit(5) == 2
    assert calls == [[0], [5]]
    await group.close()


async def test_closing_hands_back_what_is_queued(pool: asyncpg.Pool) -> None:
    write = HeldWrites()
    write.hold = True
    group: GroupCommit[int, int] = GroupCommit(pool, write, name="test", lanes=1)
    held = asyncio.create_task(group.submit(1))
    await eventually(write.took_first, what="the first write to take the lane")
    queued = asyncio.create_task(group.submit(2))
    await asyncio.sleep(0)  # one turn of the loop: the task runs up to its await, having queued
    await group.close()
    assert await held is None  # cancelled with the lane: its caller writes it
    assert await queued is None
    assert await group.submit(3) is None  # closed: callers write their own


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
