"""The outbox worker on a real database: outcomes, backoff, the run loop, concurrency, leases."""

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from structlog.testing import capture_logs

from feedback_svc.db.pool import create_pool
from feedback_svc.delivery.errors import PermanentDeliveryError, TransientDeliveryError
from feedback_svc.outbox import worker as worker_module
from feedback_svc.outbox.queries import Job, claim_jobs, complete_job, enqueue, retry_job
from feedback_svc.outbox.worker import Handler, OutboxWorker, RunLater
from feedback_svc.settings import Settings
from tests.waiting import eventually

TOPIC = "test.topic"


async def add_jobs(conn: asyncpg.Connection, count: int = 1, topic: str = TOPIC) -> list[int]:
    return [await enqueue(conn, topic=topic, payload={"n": n}) for n in range(count)]  # type: ignore[misc]


async def job_row(conn: asyncpg.Connection, job_id: int) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT status, attempts, run_after - now() AS wait, locked_by, locked_until, last_error, "
        "finished_at FROM outbox WHERE id = $1",
        job_id,
    )
    assert row is not None
    return row


def failing(error: Exception) -> Handler:
    async def handler(job: Job) -> None:
        raise error

    return handler


async def test_a_job_that_succeeds_is_done_and_its_handler_saw_the_payload(
    pool: asyncpg.Pool, conn: asyncpg.Connection
) -> None:
    seen: list[Job] = []

    async def handler(job: Job) -> None:
        seen.append(job)

    [job_id] = await add_jobs(conn)
    other = await enqueue(conn, topic="not.mine", payload={})
    worker = OutboxWorker(pool, {TOPIC: handler}, name="w1")
    assert await worker.run_once() == 1
    assert [(job.id, job.payload, job.attempts) for job in seen] == [(job_id, {"n": 0}, 1)]
    row = await job_row(conn, job_id)
    assert (row["status"], row["locked_by"], row["finished_at"] is not None) == ("done", None, True)
    assert (await job_row(conn, other))["status"] == "pending"  # another topic is left alone
    assert await worker.run_once() == 0


async def test_a_transient_failure_is_retried_later_with_backoff(
    pool: asyncpg.Pool, conn: asyncpg.Connection
) -> None:
    [job_id] = await add_jobs(conn)
    worker = OutboxWorker(pool, {TOPIC: failing(TransientDeliveryError("relay down"))}, name="w1")
    assert await worker.run_once() == 1
    row = await job_row(conn, job_id)
    assert row["status"] == "pending"
    assert row["attempts"] == 1
    assert row["locked_by"] is None
    # first retry: 10 s nominal, jittered between 5 and 10 s
    assert timedelta(seconds=4) < row["wait"] <= timedelta(seconds=10)
    assert row["last_error"] == "TransientDeliveryError: relay down"
    assert await worker.run_once() == 0  # not due yet: no hot loop on a failing job


async def test_backoff_grows_with_each_attempt(pool: asyncpg.Pool, conn: asyncpg.Connection) -> None:
    [job_id] = await add_jobs(conn)
    worker = OutboxWorker(pool, {TOPIC: failing(TransientDeliveryError("busy"))}, name="w1")
    waits = []
    for _ in range(3):
        await conn.execute("UPDATE outbox SET run_after = now() WHERE id = $1", job_id)
        await worker.run_once()
        waits.append((await job_row(conn, job_id))["wait"])
    # nominal 10, 20, 40 s, each jittered within its upper half: the ranges do not overlap
    assert timedelta(seconds=4) < waits[0] <= timedelta(seconds=10)
    assert timedelta(seconds=9) < waits[1] <= timedelta(seconds=20)
    assert timedelta(seconds=19) < waits[2] <= timedelta(seconds=40)


async def test_an_unexpected_exception_is_retried_and_says_where_it_came_from(
    pool: asyncpg.Pool, conn: asyncpg.Connection
) -> None:
    [job_id] = await add_jobs(conn)
    worker = OutboxWorker(pool, {TOPIC: failing(KeyError("invitation_id"))}, name="w1")
    await worker.run_once()
    row = await job_row(conn, job_id)
    assert row["status"] == "pending"
    assert row["last_error"].startswith("KeyError: 'invitation_id' (at test_worker.py:")


async def test_a_permanent_failure_buries_the_job_at_once(
    pool: asyncpg.Pool, conn: asyncpg.Connection
) -> None:
    [job_id] = await add_jobs(conn)
    worker = OutboxWorker(pool, {TOPIC: failing(PermanentDeliveryError("550 no such user"))}, name="w1")
    await worker.run_once()
    row = await job_row(conn, job_id)
    assert (row["status"], row["attempts"]) == ("dead", 1)
    assert row["last_error"] == "PermanentDeliveryError: 550 no such user"


async def test_a_job_out_of_attempts_is_buried(pool: asyncpg.Pool, conn: asyncpg.Connection) -> None:
    [job_id] = await add_jobs(conn)
    worker = OutboxWorker(pool, {TOPIC: failing(TransientDeliveryError("busy"))}, name="w1", max_attempts=3)
    statuses = []
    for _ in range(3):
        await conn.execute("UPDATE outbox SET run_after = now() WHERE id = $1", job_id)
        with capture_logs() as logs:
            await worker.run_once()
        statuses.append((await job_row(conn, job_id))["status"])
    assert statuses == ["pending", "pending", "dead"]
    [last] = events(logs, "outbox job buried, out of attempts")
    assert (last["log_level"], last["job_id"], last["error"]) == (
        "warning",
        job_id,
        "TransientDeliveryError: busy",
    )


async def test_one_failing_job_does_not_stop_the_others_in_its_batch(
    pool: asyncpg.Pool, conn: asyncpg.Connection
) -> None:
    ids = await add_jobs(conn, 5)

    async def handler(job: Job) -> None:
        if job.payload["n"] == 2:
            raise RuntimeError("boom")

    assert await OutboxWorker(pool, {TOPIC: handler}, name="w1").run_once() == 5
    statuses = [(await job_row(conn, job_id))["status"] for job_id in ids]
    assert statuses == ["done", "done", "pending", "done", "done"]


class CountingWorker(OutboxWorker):
    claims = 0

    async def run_once(self) -> int:
        self.claims += 1
        return await super().run_once()


async def test_run_sleeps_when_idle_picks_up_new_work_and_stops_promptly(
    pool: asyncpg.Pool, conn: asyncpg.Connection
) -> None:
    done = asyncio.Event()

    async def handler(job: Job) -> None:
        done.set()

    worker = CountingWorker(pool, {TOPIC: handler}, name="w1", idle_interval=0.2)
    stop = asyncio.Event()
    started = time.monotonic()
    task = asyncio.create_task(worker.run(stop))

    async def claims() -> int:
        return worker.claims

    await eventually(claims, until=lambda n: n >= 3, what="three idle claims")
    # one claim per idle interval, not a spin: the third comes two intervals after the first
    assert time.monotonic() - started >= 2 * 0.2
    await add_jobs(conn)
    await asyncio.wait_for(done.wait(), timeout=5)
    stop.set()
    await asyncio.wait_for(task, timeout=1)  # wakes from its idle sleep at once


async def test_run_survives_a_failing_claim(pool: asyncpg.Pool, conn: asyncpg.Connection) -> None:
    class Flaky(OutboxWorker):
        failures = 0

        async def run_once(self) -> int:
            if self.failures < 2:
                self.failures += 1
                raise ConnectionRefusedError("database away")
            return await super().run_once()

    done = asyncio.Event()

    async def handler(job: Job) -> None:
        done.set()

    await add_jobs(conn)
    stop = asyncio.Event()
    worker = Flaky(pool, {TOPIC: handler}, name="w1", idle_interval=0.05)
    task = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(done.wait(), timeout=5)
    stop.set()
    await asyncio.wait_for(task, timeout=1)
    assert worker.failures == 2


async def test_four_workers_side_by_side_do_every_job_exactly_once(
    settings: Settings, database_url: str, conn: asyncpg.Connection
) -> None:
    ids = await add_jobs(conn, 300)
    runs: Counter[int] = Counter()
    by_worker: Counter[str] = Counter()

    def handler_for(name: str) -> Handler:
        async def handler(job: Job) -> None:
            await asyncio.sleep(0.001)  # yield, so the workers' claims interleave (not a wait)
            runs[job.id] += 1
            by_worker[name] += 1

        return handler

    pools = [await create_pool(settings, database_url) for _ in range(4)]
    try:
        workers = [
            OutboxWorker(pool, {TOPIC: handler_for(f"w{n}")}, name=f"w{n}", batch_size=7, idle_interval=0.05)
            for n, pool in enumerate(pools)
        ]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(worker.run(stop)) for worker in workers]
        await eventually(
            lambda: conn.fetchval("SELECT count(*) FROM outbox WHERE status = 'pending'"),
            until=lambda pending: pending == 0,
            what="the four workers to do every job",
        )
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=5)
    finally:
        for pool in pools:
            await pool.close()
    assert runs == Counter(dict.fromkeys(ids, 1))
    rows = await conn.fetch("SELECT status, attempts FROM outbox")
    assert {(row["status"], row["attempts"]) for row in rows} == {("done", 1)}
    assert len(by_worker) == 4  # all four really claimed side by side


async def test_a_job_whose_worker_died_is_claimed_again_after_its_lease(
    pool: asyncpg.Pool, conn: asyncpg.Connection
) -> None:
    [job_id] = await add_jobs(conn)
    # "dead" claims with a short lease and never reports back
    [claimed] = await claim_jobs(pool, topics=[TOPIC], worker="dead", limit=10, lease=timedelta(seconds=0.5))
    ran: list[Job] = []

    async def handler(job: Job) -> None:
        ran.append(job)

    survivor = OutboxWorker(pool, {TOPIC: handler}, name="survivor")
    assert await survivor.run_once() == 0  # leased: nobody else may take it
    # a claim before the lease ends takes nothing and changes nothing, so trying again is safe
    assert await eventually(survivor.run_once, what="the lease to end and the survivor to claim") == 1
    assert [(job.id, job.attempts) for job in ran] == [(job_id, 2)]  # the lost run counts
    # the dead worker waking up late cannot undo the survivor's work
    await retry_job(pool, job_id=claimed.id, worker="dead", delay=timedelta(0), error="late")
    row = await job_row(conn, job_id)
    assert (row["status"], row["last_error"]) == ("done", None)


async def test_a_job_that_asks_to_run_later_is_deferred_without_spending_an_attempt(
    pool: asyncpg.Pool, conn: asyncpg.Connection
) -> None:
    later = datetime.now(UTC) + timedelta(hours=9)
    calls: list[int] = []

    async def handler(job: Job) -> None:
        calls.append(job.attempts)
        if len(calls) == 1:
            raise RunLater(later, "waiting: sms quiet hours")

    [job_id] = await add_jobs(conn)
    worker = OutboxWorker(pool, {TOPIC: handler}, name="w1", max_attempts=1)
    assert await worker.run_once() == 1
    row = await job_row(conn, job_id)
    assert (row["status"], row["attempts"], row["locked_by"]) == ("pending", 0, None)
    assert row["last_error"] == "waiting: sms quiet hours"
    assert await conn.fetchval("SELECT run_after FROM outbox WHERE id = $1", job_id) == later
    assert await worker.run_once() == 0  # not before its time

    await conn.execute("UPDATE outbox SET run_after = now() WHERE id = $1", job_id)
    assert await worker.run_once() == 1
    # the deferral cost no attempt: with max_attempts=1 a failed first try would have buried it
    assert calls == [1, 1]
    assert (await job_row(conn, job_id))["status"] == "done"


# -- the log lines operators alert on ------------------------------------------------------------


def events(logs: list[dict[str, Any]], *names: str) -> list[dict[str, Any]]:
    return [entry for entry in logs if entry["event"] in names]


async def test_the_worker_logs_its_start_and_stop_with_its_topics(pool: asyncpg.Pool) -> None:
    worker = OutboxWorker(
        pool, {TOPIC: failing(AssertionError("never called")), "b.topic": failing(AssertionError())}
    )
    stop = asyncio.Event()
    stop.set()
    with capture_logs() as logs:
        await worker.run(stop)
    assert [(entry["event"], entry.get("topics")) for entry in logs] == [
        ("outbox worker started", ["b.topic", TOPIC]),
        ("outbox worker stopped", None),
    ]


async def test_a_done_and_a_deferred_job_are_logged_with_their_job(
    pool: asyncpg.Pool, conn: asyncpg.Connection
) -> None:
    later = datetime.now(UTC) + timedelta(hours=2)

    async def handler(job: Job) -> None:
        if job.payload["n"] == 1:
            raise RunLater(later, "waiting: sms quiet hours")

    done, deferred = await add_jobs(conn, 2)
    with capture_logs() as logs:
        assert await OutboxWorker(pool, {TOPIC: handler}, name="w1").run_once() == 2
    outcomes = events(logs, "outbox job done", "outbox job deferred")
    assert sorted(
        (entry["event"], entry["job_id"], entry["topic"], entry["worker"]) for entry in outcomes
    ) == [
        ("outbox job deferred", deferred, TOPIC, "w1"),
        ("outbox job done", done, TOPIC, "w1"),
    ]
    [deferral] = events(logs, "outbox job deferred")
    assert (deferral["reason"], deferral["run_at"]) == ("waiting: sms quiet hours", str(later))


async def test_a_buried_and_a_retried_job_are_warnings_with_their_error_and_delay(
    pool: asyncpg.Pool, conn: asyncpg.Connection
) -> None:
    """What an operator greps for: which job was given up on, which waits, why, and how long."""

    async def handler(job: Job) -> None:
        if job.payload["n"] == 0:
            raise PermanentDeliveryError("550 no such user")
        raise TransientDeliveryError("421 try later")

    buried, retried = await add_jobs(conn, 2)
    worker = OutboxWorker(pool, {TOPIC: handler}, name="w1", backoff=lambda attempts: timedelta(seconds=42))
    with capture_logs() as logs:
        assert await worker.run_once() == 2
    outcomes = events(logs, "outbox job buried", "outbox job retry scheduled")
    assert sorted(
        (entry["event"], entry["log_level"], entry["job_id"], entry["error"], entry["retry_in_seconds"])
        for entry in outcomes
    ) == [
        ("outbox job buried", "warning", buried, "PermanentDeliveryError: 550 no such user", None),
        ("outbox job retry scheduled", "warning", retried, "TransientDeliveryError: 421 try later", 42.0),
    ]


async def test_bookkeeping_that_fails_once_is_retried_and_said_so(
    pool: asyncpg.Pool, conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    failures = [asyncpg.exceptions.CannotConnectNowError("the database is starting up")]

    async def complete_once_back(pool: asyncpg.Pool, *, job_id: int, worker: str) -> None:
        if failures:
            raise failures.pop()
        await complete_job(pool, job_id=job_id, worker=worker)

    monkeypatch.setattr(worker_module, "complete_job", complete_once_back)
    [job_id] = await add_jobs(conn)
    with capture_logs() as logs:
        assert await OutboxWorker(pool, {TOPIC: lambda job: asyncio.sleep(0)}, name="w1").run_once() == 1
    assert [(entry["event"], entry.get("outcome")) for entry in events(logs, *BOOKKEEPING)] == [
        ("outbox bookkeeping failed; retrying", "done"),
        ("outbox job done", None),
    ]
    [retrying] = events(logs, "outbox bookkeeping failed; retrying")
    assert retrying["error"] == "CannotConnectNowError: the database is starting up"
    assert (await job_row(conn, job_id))["status"] == "done"


BOOKKEEPING = ("outbox bookkeeping failed; retrying", "outbox bookkeeping failed", "outbox job done")
