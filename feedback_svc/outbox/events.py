"""Domain events: one outbox topic, fanned out to every consumer in one transaction.

An event is written by the change that caused it (`response.created`, `task.created`,
`score.created`, ...) as an outbox job on EVENT_TOPIC with payload
`{"type": ..., "data": {...}}`. The worker hands it to each consumer in turn inside one
transaction, so either all of them saw it or none did and the job comes back. Delivery is
at least once: consumers must be idempotent (the outbox job id is a stable event id).
"""

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
import msgspec

from feedback_svc.outbox.queries import Job, NewJob, enqueue, enqueue_many

EVENT_TOPIC = "event"


class Event(msgspec.Struct, frozen=True):
    id: int  # the outbox job id: the same event keeps it across redeliveries
    type: str
    data: dict[str, Any]


EventConsumer = Callable[[asyncpg.Connection, Event], Awaitable[None]]


def event_handler(pool: asyncpg.Pool, consumers: Sequence[EventConsumer]) -> Callable[[Job], Awaitable[None]]:
    async def handle(job: Job) -> None:
        event = Event(id=job.id, type=job.payload["type"], data=job.payload.get("data", {}))
        async with pool.acquire() as conn, conn.transaction():
            for consume in consumers:
                await consume(conn, event)

    return handle


async def emit_event(
    conn: asyncpg.Connection,
    *,
    type: str,
    data: dict[str, Any],
    ordering_key: str | None = None,
    dedupe_key: str | None = None,
) -> int | None:
    """Write an event in the caller's transaction; None when `dedupe_key` was seen before."""
    return await enqueue(
        conn,
        topic=EVENT_TOPIC,
        payload={"type": type, "data": data},
        ordering_key=ordering_key,
        dedupe_key=dedupe_key,
    )


class NewEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event for `emit_events`, with the keys `emit_event` takes."""

    type: str
    data: dict[str, Any]
    ordering_key: str | None = None
    dedupe_key: str | None = None


async def emit_events(conn: asyncpg.Connection, events: Sequence[NewEvent]) -> list[int]:
    """`emit_event` for many events in one statement, in the caller's transaction and in
    the order given; the ids of those whose dedupe key was new."""
    return await enqueue_many(
        conn,
        topic=EVENT_TOPIC,
        jobs=[
            NewJob(
                payload={"type": event.type, "data": event.data},
                ordering_key=event.ordering_key,
                dedupe_key=event.dedupe_key,
            )
            for event in events
        ],
    )
