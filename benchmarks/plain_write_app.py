"""The second reference for bench_request_path: one durable INSERT per request and nothing else.

    DATABASE_URL=postgresql://... python -m uvicorn benchmarks.plain_write_app:app --port 8002

A Litestar app whose `POST /answers` decodes the same body as the service's `POST /v1/responses`
with msgspec and writes it with one INSERT on an asyncpg pool of the service's size, committed
on its own (synchronous_commit on) before the 201. No key, no idempotency, no event, no
grouping: the plainest handler that makes an answer durable, so the service's answer can be read
against what one write per request costs on the same machine in the same run.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

import asyncpg
import msgspec
from litestar import Litestar, get, post

TABLE = "bench_plain_answers"
POOL_SIZE = 10  # the service's default FEEDBACK_DB_POOL_MAX


class Answer(msgspec.Struct, forbid_unknown_fields=True):
    customer_id: UUID
    survey: str
    score: int
    comment: str | None = None


class Stored(msgspec.Struct):
    id: int


class Pool:
    value: asyncpg.Pool


@asynccontextmanager
async def lifespan(_: Litestar) -> AsyncIterator[None]:
    Pool.value = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=2, max_size=POOL_SIZE)
    async with Pool.value.acquire() as conn, conn.transaction():
        # every worker of the app starts here: the lock keeps two CREATEs from racing
        await conn.execute("SELECT pg_advisory_xact_lock(4242)")
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
            "customer_id uuid NOT NULL, survey text NOT NULL, score int NOT NULL, comment text, "
            "created_at timestamptz NOT NULL DEFAULT now())"
        )
    try:
        yield
    finally:
        await Pool.value.close()


@get("/health/live", cache_control=None)
async def live() -> dict[str, str]:
    return {"status": "ok"}


@post("/answers", status_code=201)
async def answer(data: Answer) -> Stored:
    stored = await Pool.value.fetchval(
        f"INSERT INTO {TABLE} (customer_id, survey, score, comment) VALUES ($1, $2, $3, $4) RETURNING id",
        data.customer_id,
        data.survey,
        data.score,
        data.comment,
    )
    return Stored(id=stored)


app = Litestar(route_handlers=[live, answer], lifespan=[lifespan], debug=False, logging_config=None)
