"""enqueue_many and emit_events store what as many enqueue and emit_event calls would, in one statement."""

import asyncpg
import msgspec

from feedback_svc.outbox.events import NewEvent, emit_event, emit_events
from feedback_svc.outbox.queries import NewJob, enqueue, enqueue_many

COLUMNS = "topic, payload, ordering_key, dedupe_key, status, attempts, run_after = now() AS now"


async def test_many_jobs_are_stored_as_one_enqueue_each_would_store_them(conn: asyncpg.Connection) -> None:
    payloads = [
        {"type": "t", "data": {"n": n, "x": 0.1 + n / 3, "reasons": [{"text": 'a "quote"', "v": None}]}}
        for n in range(3)
    ]
    async with conn.transaction():  # now() is the same for both ways
        one_by_one = [
            await enqueue(conn, topic="a", payload=payload, ordering_key=f"k{n}", dedupe_key=f"one:{n}")
            for n, payload in enumerate(payloads)
        ]
        together = await enqueue_many(
            conn,
            topic="a",
            jobs=[
                NewJob(payload=payload, ordering_key=f"k{n}", dedupe_key=f"many:{n}")
                for n, payload in enumerate(payloads)
            ],
        )
        rows = {row["id"]: row for row in await conn.fetch(f"SELECT id, {COLUMNS} FROM outbox")}
    assert together == sorted(together), "ids in the order given"
    for single, batched in zip(one_by_one, together, strict=True):
        expected, got = dict(rows[single]), dict(rows[batched])
        assert expected.pop("dedupe_key").removeprefix("one:") == got.pop("dedupe_key").removeprefix("many:")
        expected.pop("id"), got.pop("id")
        assert got == expected
        assert got["now"] is True


async def test_a_dedupe_key_seen_before_leaves_its_job_out(conn: asyncpg.Connection) -> None:
    first = await enqueue(conn, topic="a", payload={"n": 0}, dedupe_key="seen")
    ids = await enqueue_many(
        conn,
        topic="a",
        jobs=[NewJob(payload={"n": 1}, dedupe_key="seen"), NewJob(payload={"n": 2}, dedupe_key="new")],
    )
    assert len(ids) == 1
    assert first not in ids
    stored = await conn.fetch("SELECT dedupe_key, payload FROM outbox ORDER BY id")
    assert [(row["dedupe_key"], row["payload"]) for row in stored] == [("seen", {"n": 0}), ("new", {"n": 2})]
    assert await enqueue_many(conn, topic="a", jobs=[]) == []


async def test_many_events_are_stored_as_one_emit_event_each_would_store_them(
    conn: asyncpg.Connection,
) -> None:
    events = [
        NewEvent(
            type="customer.at_risk",
            data={"customer_id": f"c{n}", "churn": 0.5 + n / 10},
            ordering_key=f"c{n}",
        )
        for n in range(2)
    ]
    async with conn.transaction():
        one_by_one = [
            await emit_event(
                conn, type=event.type, data=event.data, ordering_key=event.ordering_key, dedupe_key=f"one:{n}"
            )
            for n, event in enumerate(events)
        ]
        together = await emit_events(
            conn, [msgspec.structs.replace(event, dedupe_key=f"many:{n}") for n, event in enumerate(events)]
        )
        rows = {row["id"]: row for row in await conn.fetch(f"SELECT id, {COLUMNS} FROM outbox")}
    for single, batched in zip(one_by_one, together, strict=True):
        expected, got = dict(rows[single]), dict(rows[batched])
        assert expected.pop("dedupe_key").removeprefix("one:") == got.pop("dedupe_key").removeprefix("many:")
        expected.pop("id"), got.pop("id")
        assert got == expected
    assert [rows[job]["payload"] for job in together] == [
        {"type": event.type, "data": event.data} for event in events
    ]
