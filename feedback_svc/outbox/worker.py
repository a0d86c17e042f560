"""Drains the outbox: claim a batch, run each job's handler, then complete, retry or bury it.

Delivery is at least once. A job whose worker dies keeps its lease until `locked_until`
and is then claimed again by any worker, so handlers must be idempotent (the invitation
sender checks the invitation's status; SMS carries an idempotency key).
"""

import asyncio
import os
import random
import secrets
import socket
import traceback
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from datetime import datetime, timedelta

import asyncpg
import structlog

from feedback_svc.delivery.errors import PermanentDeliveryError, TransientDeliveryError
from feedback_svc.outbox.queries import Job, bury_job, claim_jobs, complete_job, defer_job, retry_job

log = structlog.get_logger(__name__)

Handler = Callable[[Job], Awaitable[None]]

BACKOFF_BASE = timedelta(seconds=10)
BACKOFF_CAP = timedelta(hours=1)
# how long a worker keeps trying to record a job's outcome while the database is away; bounded
# so a long outage does not hold up a shutdown (the lease covers the rest)
SETTLE_RETRY_SECONDS = 30.0


class RunLater(Exception):
    """Raised by a handler whose job turned out not to be due yet (a reminder that came due in
    SMS quiet hours): the same job runs again at `at`, and this claim costs it no attempt."""

    def __init__(self, at: datetime, reason: str) -> None:
        super().__init__(reason)
        self.at = at
        self.reason = reason


def backoff_delay(
    attempts: int,
    *,
    base: timedelta = BACKOFF_BASE,
    cap: timedelta = BACKOFF_CAP,
    rand: Callable[[], float] = random.random,
) -> timedelta:
    """How long to wait after failed attempt number `attempts` (1 for the first).

    base * 2**(attempts - 1), capped, then "equal jitter": a random point in its upper
    half, so retries of jobs that failed together spread out yet never come back sooner
    than half the nominal delay.
    """
    exponent = min(max(attempts, 1) - 1, 32)  # 2**32 * 10 s is far past any cap
    nominal = min(base * 2**exponent, cap)
    return nominal / 2 + nominal / 2 * rand()


def default_worker_name() -> str:
    """host:pid:random, so a restarted process never mistakes an old lease for its own."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class OutboxWorker:
    """Runs the handlers for its topics; any number of these may share one database."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        handlers: Mapping[str, Handler],
        *,
        name: str | None = None,
        batch_size: int = 10,
        lease: timedelta = timedelta(minutes=5),
        idle_interval: float = 1.0,
        max_attempts: int = 10,
        backoff: Callable[[int], timedelta] = backoff_delay,
    ) -> None:
        if not handlers:
            raise ValueError("OutboxWorker needs at least one handler")
        self.pool = pool
        self.handlers = dict(handlers)
        self.name = name or default_worker_name()
        self.batch_size = batch_size
        # Must outlast a whole batch: the jobs of one batch run side by side, each bounded by
        # its channel's own timeouts (SMTP 30 s a step, SMS 15 s).
        self.lease = lease
        self.idle_interval = idle_interval
        self.max_attempts = max_attempts
        self.backoff = backoff
        self._log = log.bind(worker=self.name)

    async def run_once(self) -> int:
        """Claim one batch and run it to the end; returns how many jobs were claimed."""
        jobs = await claim_jobs(
            self.pool, topics=list(self.handlers), worker=self.name, limit=self.batch_size, lease=self.lease
        )
        if jobs:
            await asyncio.gather(*(self._run_job(job) for job in jobs))
        return len(jobs)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; the batch in hand is finished first."""
        self._log.info("outbox worker started", topics=sorted(self.handlers))
        while not stop.is_set():
            try:
                claimed = await self.run_once()
            except Exception as error:  # the database is away: wait, then try again
                self._log.warning("outbox claim failed", error=_describe(error))
                claimed = 0
            if claimed == 0:
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.idle_interval)
        self._log.info("outbox worker stopped")

    async def _run_job(self, job: Job) -> None:
        job_log = self._log.bind(job_id=job.id, topic=job.topic, attempt=job.attempts)
        try:
            await self.handlers[job.topic](job)
        except RunLater as later:
            await self._settle(job_log, "deferred", defer_job, job, until=later.at, reason=later.reason)
        except PermanentDeliveryError as error:
            await self._settle(job_log, "buried", bury_job, job, error=_describe(error))
        except Exception as error:
            # TransientDeliveryError says "try again"; a bug or an outage is treated the same way,
            # and max_attempts keeps it from being retried for ever.
            described = _describe(error)
            if not isinstance(error, TransientDeliveryError):
                described += _where(error)
            if job.attempts >= self.max_attempts:
                await self._settle(job_log, "buried, out of attempts", bury_job, job, error=described)
            else:
                delay = self.backoff(job.attempts)
                await self._settle(job_log, "retry scheduled", retry_job, job, error=described, delay=delay)
        else:
            await self._settle(job_log, "done", complete_job, job)

    async def _settle(
        self,
        job_log: structlog.typing.FilteringBoundLogger,
        event: str,
        query: Callable[..., Awaitable[None]],
        job: Job,
        **fields: object,
    ) -> None:
        # The database may be back in a moment (a restart, a failover): keep trying for a while,
        # or the job, and every later job for its customer, waits out the rest of the lease.
        # Retrying is safe: each query only counts while the lease is still ours.
        give_up = asyncio.get_running_loop().time() + SETTLE_RETRY_SECONDS
        pause = 0.5
        while True:
            try:
                await query(self.pool, job_id=job.id, worker=self.name, **fields)
                break
            except Exception as error:
                if asyncio.get_running_loop().time() + pause > give_up:
                    # The lease runs out and the job is claimed again: at least once, never lost.
                    job_log.error("outbox bookkeeping failed", outcome=event, error=_describe(error))
                    return
                job_log.warning("outbox bookkeeping failed; retrying", outcome=event, error=_describe(error))
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)
        if event == "done":
            job_log.info("outbox job done")
        elif event == "deferred":
            job_log.info("outbox job deferred", reason=fields["reason"], run_at=str(fields["until"]))
        else:
            delay = fields.get("delay")
            seconds = round(delay.total_seconds(), 1) if isinstance(delay, timedelta) else None
            job_log.warning(f"outbox job {event}", error=fields["error"], retry_in_seconds=seconds)


def _describe(error: BaseException) -> str:
    # Our delivery errors are written to be read (and carry no secrets or message bodies).
    return f"{type(error).__name__}: {error}"


def _where(error: BaseException) -> str:
    # Where an unexpected error came from, without a full traceback: a console renderer
    # would print each frame's locals, settings and passwords among them.
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f" (at {os.path.basename(last.filename)}:{last.lineno} in {last.name})"
