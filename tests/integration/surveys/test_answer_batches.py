"""Group commit of answers: answers arriving while every lane is busy share one statement and one
commit, and each still gets its own reply, row, key and event; a batch refused as a whole sends
each answer on its own, so each gets the exact reply it would have had alone.

Every lane is held busy by answers for a customer the test keeps locked; the answers sent then
queue, and once the lock goes they leave as one batch. One batch is one transaction: its rows
share one xmin. The requests run concurrently in the test's own loop (the test client serves
its app from another thread, one request at a time), on a second app over the same database."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from litestar import Litestar

from feedback_svc.app import create_app
from feedback_svc.settings import Settings
from feedback_svc.surveys.answer_batches import AnswerLanes
from feedback_svc.surveys.schemas import SurveyResponse
from tests.integration.surveys.test_answer_statements import COLUMNS, events, expected_event
from tests.integration.surveys.test_keyed_answers import new_customer
from tests.integration.surveys.test_pages import invited, token
from tests.waiting import eventually

Client = httpx.AsyncClient
Served = tuple[Litestar, Client]
LANES = 2  # AnswerLanes' default


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[Served]:
    """An app whose requests run concurrently in this loop."""
    app = create_app(settings)
    started, stop = asyncio.Event(), asyncio.Event()

    async def run() -> None:  # entered and left in one task, as its cancel scopes need
        async with app.lifespan():
            started.set()
            await stop.wait()

    running = asyncio.create_task(run())
    await asyncio.wait([running, asyncio.create_task(started.wait())], return_when=asyncio.FIRST_COMPLETED)
    if running.done():
        running.result()  # the app did not start: say why
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield app, http
    finally:
        stop.set()
        await running


async def _lock_waits(conn: asyncpg.Connection) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )


@asynccontextmanager
async def lanes_held(
    client: Client, database_url: str, conn: asyncpg.Connection, customer_id: str, *holders: Awaitable[Any]
) -> AsyncIterator[list[Any]]:
    """Every lane busy with `holders` (answers for `customer_id`, locked here) until the block ends;
    then the lock goes and the holders' replies are in the list."""
    assert len(holders) == LANES
    locker = await asyncpg.connect(database_url)
    replies: list[Any] = []
    try:
        held = locker.transaction()
        await held.start()
        await locker.execute("SELECT 1 FROM customers WHERE id = $1 FOR UPDATE", uuid.UUID(customer_id))
        running = []
        for holder in holders:  # one by one: sent together, one lane could take both
            running.append(asyncio.ensure_future(holder))
            count = len(running)
            await eventually(
                lambda: _lock_waits(conn),
                until=lambda n, count=count: n == count,
                what=f"{count} lanes to wait",
            )
        try:
            yield replies
        finally:
            await held.rollback()
            replies.extend(await asyncio.gather(*running))
    finally:
        await locker.close()


async def queued(app: Litestar, count: int) -> None:
    lanes: AnswerLanes = app.state.answer_lanes

    async def waiting() -> int:
        return lanes.waiting

    await eventually(waiting, until=lambda n, count=count: n == count, what=f"{count} answers queued")


async def transactions(conn: asyncpg.Connection, ids: Sequence[str]) -> int:
    """How many transactions wrote these responses."""
    return await conn.fetchval(
        "SELECT count(DISTINCT xmin::text) FROM responses WHERE id = ANY($1::uuid[])", list(ids)
    )


def post_answer(
    client: Client, crm: dict[str, str], key: str, body: dict[str, Any]
) -> Awaitable[httpx.Response]:
    return client.post("/v1/responses", json=body, headers={**crm, "Idempotency-Key": key})


async def test_api_answers_arriving_meanwhile_share_one_commit_each_with_its_own_reply_and_replay(
    served: Served, crm: dict[str, str], database_url: str, conn: asyncpg.Connection
) -> None:
    app, client = served
    blocker = await new_customer(client, crm, "batch-blocker")
    customers = [await new_customer(client, crm, f"batch-{n}") for n in range(3)]
    holders = [
        post_answer(client, crm, f"hold-{n}", {"customer_id": blocker, "survey": "nps", "score": n})
        for n in range(LANES)
    ]
    bodies = [
        {"customer_id": customers[0], "survey": "nps", "score": 10, "comment": 'one "quoted"'},
        {"customer_id": customers[1], "survey": "csat", "score": 2},
        {"customer_external_id": "batch-2", "survey": "ces", "score": 7, "contact_requested": True},
        {"customer_id": customers[0], "survey": "csat", "score": 5},  # the same customer twice
    ]
    async with lanes_held(client, database_url, conn, blocker, *holders) as held:
        sent = asyncio.gather(
            *(post_answer(client, crm, f"batch-key-{n}", body) for n, body in enumerate(bodies))
        )
        await queued(app, len(bodies))
    replies = await sent
    assert [reply.status_code for reply in [*held, *replies]] == [201] * (LANES + len(bodies)), [
        r.text for r in replies
    ]
    ids = [reply.json()["id"] for reply in replies]
    assert len(set(ids)) == len(bodies)
    assert await transactions(conn, ids) == 1  # one statement, one commit
    for key, reply in enumerate(replies):
        row = await conn.fetchrow(f"SELECT {COLUMNS} FROM responses WHERE id = $1", uuid.UUID(ids[key]))
        survey = bodies[key]["survey"]
        assert reply.content == msgspec.json.encode(
            msgspec.convert({**dict(row), "survey": survey}, SurveyResponse)
        )
        stored = await conn.fetchval(
            "SELECT response_body FROM idempotency_keys WHERE key = $1", f"batch-key-{key}"
        )
        assert stored == reply.content
    assert [
        await conn.fetchval("SELECT customer_id::text FROM responses WHERE id = $1", uuid.UUID(i))
        for i in ids
    ] == [customers[0], customers[1], customers[2], customers[0]]
    batch_events = [event for event in await events(conn) if event["payload"]["data"]["id"] in ids]
    assert len(batch_events) == len(bodies)
    for event in batch_events:
        row = await conn.fetchrow(
            f"SELECT {COLUMNS} FROM responses WHERE id = $1", uuid.UUID(event["payload"]["data"]["id"])
        )
        survey = event["payload"]["data"]["survey"]
        assert (event["payload"], event["dedupe_key"]) == expected_event("response.created", row, survey)

    again = await post_answer(client, crm, "batch-key-1", bodies[1])
    assert (again.status_code, again.content, again.headers["idempotent-replayed"]) == (
        201,
        replies[1].content,
        "true",
    )
    other = await post_answer(client, crm, "batch-key-1", {**bodies[1], "score": 3})
    assert other.status_code == 422, other.text
    assert await conn.fetchval("SELECT count(*) FROM responses") == LANES + len(bodies)


def _problem(reply: httpx.Response) -> tuple[int, dict[str, Any]]:
    """The problem as told, but for the id each request gets."""
    problem = reply.json()
    del problem["request_id"]
    return reply.status_code, problem


async def test_a_refusal_inside_a_batch_is_told_as_alone_and_the_others_are_stored(
    served: Served, crm: dict[str, str], database_url: str, conn: asyncpg.Connection
) -> None:
    app, client = served
    blocker = await new_customer(client, crm, "refusal-blocker")
    customer = await new_customer(client, crm, "refusal-ok")
    holders = [
        post_answer(client, crm, f"hold-{n}", {"customer_id": blocker, "survey": "nps", "score": n})
        for n in range(LANES)
    ]
    bodies = [
        {"customer_id": customer, "survey": "nps", "score": 9},
        {"customer_external_id": "nobody", "survey": "nps", "score": 9},  # 404
        {"customer_id": customer, "survey": "csat", "score": 9},  # off the scale: 422
        {"customer_id": customer, "survey": "no_such_survey", "score": 3},  # 422
        {"customer_id": customer, "survey": "ces", "score": 4},
    ]
    async with lanes_held(client, database_url, conn, blocker, *holders):
        sent = asyncio.gather(
            *(post_answer(client, crm, f"refusal-{n}", body) for n, body in enumerate(bodies))
        )
        await queued(app, len(bodies))
    replies = await sent
    assert [reply.status_code for reply in replies] == [201, 404, 422, 422, 201], [r.text for r in replies]
    for refused in (replies[1], replies[2], replies[3]):
        assert refused.headers["content-type"].startswith("application/problem+json")
    alone = [
        await post_answer(client, crm, f"alone-{n}", body) for n, body in enumerate(bodies) if n in (1, 2, 3)
    ]
    assert [_problem(r) for r in alone] == [_problem(r) for r in replies[1:4]]
    assert await transactions(conn, [replies[0].json()["id"], replies[4].json()["id"]]) == 1
    keys = await conn.fetch("SELECT key FROM idempotency_keys WHERE key LIKE 'refusal-%' ORDER BY key")
    assert [row["key"] for row in keys] == ["refusal-0", "refusal-4"]  # refusals keep no key


async def test_a_key_twice_in_one_batch_refuses_the_batch_and_each_answer_then_goes_alone(
    served: Served, crm: dict[str, str], database_url: str, conn: asyncpg.Connection
) -> None:
    app, client = served
    blocker = await new_customer(client, crm, "dup-blocker")
    customer = await new_customer(client, crm, "dup-ok")
    holders = [
        post_answer(client, crm, f"hold-{n}", {"customer_id": blocker, "survey": "nps", "score": n})
        for n in range(LANES)
    ]
    same = {"customer_id": customer, "survey": "nps", "score": 8}
    sends = [
        ("dup-other", {"customer_id": customer, "survey": "nps", "score": 1}),
        ("dup-same", same),
        ("dup-same", same),
        ("dup-changed", same),
        ("dup-changed", {**same, "score": 2}),
    ]
    async with lanes_held(client, database_url, conn, blocker, *holders):
        sent = asyncio.gather(*(post_answer(client, crm, key, body) for key, body in sends))
        await queued(app, len(sends))
    other, first, second, changed_first, changed_second = await sent
    assert other.status_code == 201, other.text
    # the same request twice: one answer, whose reply the other gets (or 409 while it still runs)
    done = [reply for reply in (first, second) if reply.status_code == 201]
    assert {first.status_code, second.status_code} <= {201, 409}
    assert sum("idempotent-replayed" not in reply.headers for reply in done) == 1
    assert len({reply.content for reply in done}) == 1
    # the same key with another body: one is stored, the other refused (422, or 409 while it runs)
    assert sorted([changed_first.status_code, changed_second.status_code]) in ([201, 409], [201, 422])
    written = [r.json()["id"] for r in (other, *done, changed_first, changed_second) if r.status_code == 201]
    assert (
        await conn.fetchval("SELECT count(*) FROM responses WHERE customer_id = $1", uuid.UUID(customer))
        == len(set(written))
        == 3
    )
    assert await transactions(conn, list(set(written))) == 3  # each went alone
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE ordering_key = $1", customer) == 3


async def test_form_answers_arriving_meanwhile_share_one_commit_and_each_gets_its_page(
    served: Served,
    crm: dict[str, str],
    settings: Settings,
    database_url: str,
    conn: asyncpg.Connection,
) -> None:
    app, client = served
    held_invitation, blocker = await invited(client, crm)
    second_held, _ = await invited(client, crm)
    await conn.execute(
        "UPDATE invitations SET customer_id = $1 WHERE id = $2",
        uuid.UUID(blocker["id"]),
        uuid.UUID(second_held),
    )
    invitations = [(await invited(client, crm, locale=locale))[0] for locale in ("en", "de", "en")]
    holders = [
        client.post(f"/s/{token(settings, invitation)}", data={"score": "5"})
        for invitation in (held_invitation, second_held)
    ]
    forms = [
        (invitations[0], {"score": "9", "comment": "quick"}),
        (invitations[1], {"score": "3", "contact_requested": "true"}),
        (invitations[2], {"score": "10"}),
        (str(uuid.uuid4()), {"score": "10"}),  # no such invitation: the unavailable page
    ]
    async with lanes_held(client, database_url, conn, blocker["id"], *holders) as held:
        sent = asyncio.gather(
            *(client.post(f"/s/{token(settings, invitation)}", data=form) for invitation, form in forms)
        )
        await queued(app, len(forms))
    replies = await sent
    assert [reply.status_code for reply in [*held, *replies]] == [200, 200, 200, 200, 200, 404]
    assert 'lang="de"' in replies[1].text
    assert 'lang="en"' in replies[0].text
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM responses WHERE invitation_id = ANY($1::uuid[]) ORDER BY score DESC",
        [uuid.UUID(i) for i in invitations],
    )
    assert [(row["score"], row["comment"], row["contact_requested"]) for row in rows] == [
        (10, None, False),
        (9, "quick", False),
        (3, None, True),
    ]
    assert await transactions(conn, [str(row["id"]) for row in rows]) == 1
    answered = await conn.fetchval(
        "SELECT count(*) FROM invitations WHERE id = ANY($1::uuid[]) AND status = 'answered'",
        [uuid.UUID(i) for i in invitations],
    )
    assert answered == 3
    ids = {str(row["id"]): row for row in rows}
    batch_events = [event for event in await events(conn) if event["payload"]["data"]["id"] in ids]
    by_key = {event["dedupe_key"]: event["payload"] for event in batch_events}
    assert by_key == {
        key: payload for payload, key in (expected_event("response.created", r, "nps") for r in rows)
    }


async def test_the_same_form_twice_in_one_batch_goes_alone_an_answer_and_its_edit(
    served: Served,
    crm: dict[str, str],
    settings: Settings,
    database_url: str,
    conn: asyncpg.Connection,
) -> None:
    app, client = served
    held_invitation, blocker = await invited(client, crm)
    second_held, _ = await invited(client, crm)
    await conn.execute(
        "UPDATE invitations SET customer_id = $1 WHERE id = $2",
        uuid.UUID(blocker["id"]),
        uuid.UUID(second_held),
    )
    twice, _ = await invited(client, crm)
    other, _ = await invited(client, crm)
    holders = [
        client.post(f"/s/{token(settings, invitation)}", data={"score": "5"})
        for invitation in (held_invitation, second_held)
    ]
    forms = [(twice, {"score": "2"}), (other, {"score": "7"}), (twice, {"score": "4"})]
    async with lanes_held(client, database_url, conn, blocker["id"], *holders):
        sent = asyncio.gather(
            *(client.post(f"/s/{token(settings, invitation)}", data=form) for invitation, form in forms)
        )
        await queued(app, len(forms))
    replies = await sent
    assert [reply.status_code for reply in replies] == [200, 200, 200]
    answer = await conn.fetchrow(
        f"SELECT {COLUMNS} FROM responses WHERE invitation_id = $1", uuid.UUID(twice)
    )
    assert answer["score"] in (2, 4)
    kinds = sorted(
        event["payload"]["type"]
        for event in await events(conn)
        if event["payload"]["data"]["id"] == str(answer["id"])
    )
    assert kinds == ["response.created", "response.updated"]
    rows = await conn.fetch(
        "SELECT id FROM responses WHERE invitation_id = ANY($1::uuid[])", [uuid.UUID(twice), uuid.UUID(other)]
    )
    assert await transactions(conn, [str(row["id"]) for row in rows]) == 2  # each went alone
