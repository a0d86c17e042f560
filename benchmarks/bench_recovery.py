"""Recovery queue claim -> resolve against pgqueuer enqueue -> dequeue -> ack, same run, same database.

    pip install -e '.[bench]'
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        python -m benchmarks.bench_recovery [--jobs 2000] [--workers 8] [--rounds 3]

Creates a scratch database on that server (migrated, plus pgqueuer's schema), runs the two
systems in alternating rounds and drops the database. Each system works the same number of
jobs with the same number of concurrent workers, one connection each, one job at a time:

- recovery: N open tasks are created (one multi-row INSERT), then each worker loops
  `claim_next` (one statement: SKIP LOCKED pick + lease + history row) and `resolve` (a
  transaction: the guarded update + history row, and the `task.resolved` outbox event);
- pgqueuer: N jobs are enqueued (one batch `enqueue`), then each worker loops
  `dequeue(batch_size=1)` and `log_jobs` (ack: the job moves to the log table).

The cycle rate (claim/dequeue -> resolve/ack) is what the issue asks about; the end-to-end
rate includes creating the work. Ratios above 1.0 mean the recovery queue is faster.
"""

import argparse
import asyncio
import os
import platform
import secrets
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from pgqueuer.adapters.drivers.asyncpg import AsyncpgDriver, AsyncpgPoolDriver
from pgqueuer.queries import EntrypointExecutionParameter, Queries
from pgqueuer.types import QueueEntrypoint, QueueManagerId

from feedback_svc.db import migrate
from feedback_svc.db.pool import create_pool
from feedback_svc.recovery import service
from feedback_svc.recovery.service import Actor
from feedback_svc.settings import Settings

ENTRYPOINT = QueueEntrypoint("bench")
LEASE = timedelta(minutes=5)
# the service's defaults: tasks without an answer among their evidence get no pulse survey
RESOLVE_SETTINGS = Settings()


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


async def _admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _workers(
    pool: asyncpg.Pool, count: int, work: Callable[[asyncpg.Connection], Awaitable[int]]
) -> int:
    async def one() -> int:
        async with pool.acquire() as conn:
            return await work(conn)

    return sum(await asyncio.gather(*(one() for _ in range(count))))


async def recovery_round(pool: asyncpg.Pool, *, jobs: int, workers: int) -> tuple[float, float]:
    """(seconds to create the tasks, seconds to claim and resolve them all)."""
    started = time.perf_counter()
    async with pool.acquire() as conn:
        customers = await conn.fetch(
            "INSERT INTO customers (external_id, value) "
            "SELECT 'bench-' || $1::text || '-' || g, g % 5000 FROM generate_series(1, $2) g RETURNING id",
            secrets.token_hex(4),
            jobs,
        )
        await conn.execute(
            "INSERT INTO recovery_tasks (customer_id, trigger, priority, deadline_at) "
            "SELECT id, 'nps_detractor', random() * 100, now() + interval '1 day' FROM unnest($1::uuid[]) id",
            [c["id"] for c in customers],
        )
    created = time.perf_counter()

    async def work(conn: asyncpg.Connection) -> int:
        done = 0
        actor = Actor(name=f"agent-{secrets.token_hex(2)}", key="bench")
        while (task := await service.claim_next(conn, actor=actor, lease=LEASE)) is not None:
            await service.resolve(
                conn,
                task.id,
                token=task.lease_token,
                outcome="recovered",
                root_cause="bench",
                note=None,
                actor=actor,
                settings=RESOLVE_SETTINGS,
            )
            done += 1
        return done

    resolved = await _workers(pool, workers, work)
    finished = time.perf_counter()
    assert resolved == jobs, f"resolved {resolved} of {jobs}"
    return created - started, finished - created


async def pgqueuer_round(pool: asyncpg.Pool, *, jobs: int, workers: int) -> tuple[float, float]:
    started = time.perf_counter()
    await Queries(AsyncpgPoolDriver(pool)).enqueue(
        [ENTRYPOINT] * jobs, [f"job-{k}".encode() for k in range(jobs)], [k % 100 for k in range(jobs)]
    )
    enqueued = time.perf_counter()

    async def work(conn: asyncpg.Connection) -> int:
        queries = Queries(AsyncpgDriver(conn))
        manager = QueueManagerId(uuid.uuid4())
        entrypoints = {ENTRYPOINT: EntrypointExecutionParameter(concurrency_limit=0)}
        done = 0
        while batch := await queries.dequeue(
            batch_size=1,
            entrypoints=entrypoints,
            queue_manager_id=manager,
            global_concurrency_limit=None,
            heartbeat_timeout=LEASE,
        ):
            await queries.log_jobs([(job, "successful", None) for job in batch])
            done += len(batch)
        return done

    acked = await _workers(pool, workers, work)
    finished = time.perf_counter()
    assert acked == jobs, f"acked {acked} of {jobs}"
    return enqueued - started, finished - enqueued


async def run(admin_url: str, *, jobs: int, workers: int, rounds: int) -> None:
    name = f"bench_recovery_{secrets.token_hex(4)}"
    await _admin(admin_url, f"CREATE DATABASE {name}")
    url = _with_database(admin_url, name)
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        settings = Settings(
            database_url=url, secret_key="b" * 32, db_pool_min=workers, db_pool_max=workers + 1
        )
        pool = await create_pool(settings, url)
        try:
            await Queries(AsyncpgPoolDriver(pool)).install()
            # a warm-up of each, so neither pays for first-use planning in the measured rounds
            await recovery_round(pool, jobs=min(jobs, 200), workers=workers)
            await pgqueuer_round(pool, jobs=min(jobs, 200), workers=workers)
            ours: list[tuple[float, float]] = []
            theirs: list[tuple[float, float]] = []
            for _ in range(rounds):
                ours.append(await recovery_round(pool, jobs=jobs, workers=workers))
                theirs.append(await pgqueuer_round(pool, jobs=jobs, workers=workers))
        finally:
            await pool.close()
    finally:
        await _admin(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def rates(samples: list[tuple[float, float]]) -> tuple[float, float]:
        cycle = statistics.median(jobs / work for _, work in samples)
        total = statistics.median(jobs / (make + work) for make, work in samples)
        return cycle, total

    (our_cycle, our_total), (their_cycle, their_total) = rates(ours), rates(theirs)
    print(
        f"# {platform.node()} {os.cpu_count()} cpus, {jobs} jobs x {rounds} rounds, {workers} workers, "
        f"PostgreSQL at {urlsplit(admin_url).hostname}; medians of the rounds"
    )
    for label, cycle, total in (
        ("recovery claim -> resolve (+history, +event)", our_cycle, our_total),
        ("pgqueuer dequeue -> ack", their_cycle, their_total),
    ):
        print(f"{label:45} {cycle:8.0f} jobs/s, end to end {total:8.0f}/s")
    print(
        f"ratio recovery / pgqueuer: cycle {our_cycle / their_cycle:.2f}, "
        f"end to end {our_total / their_total:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args()
    if not args.database_url:
        parser.error(
            "set DATABASE_URL (or --database-url) to a PostgreSQL server where databases can be created"
        )
    asyncio.run(run(args.database_url, jobs=args.jobs, workers=args.workers, rounds=args.rounds))


if __name__ == "__main__":
    main()
