"""Sends pending deliveries: claim a batch, POST each signed, then settle it.

Any number of processes may run this side by side: claims use SKIP LOCKED and a lease, and
settling only counts while the lease is still ours. A delivery for a customer waits while an
earlier one for the same customer and endpoint is unfinished (see claim_deliveries).
"""

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import timedelta

import asyncpg
import httpx
import msgspec
import structlog

from feedback_svc.outbox.worker import default_worker_name
from feedback_svc.webhooks import queries
from feedback_svc.webhooks.queries import Claimed
from feedback_svc.webhooks.signing import signed_headers
from feedback_svc.webhooks.targets import webhook_client

log = structlog.get_logger(__name__)

# Wait after failed attempt n (1-based) is SCHEDULE[n-1], give or take JITTER; after the
# last one the delivery is failed. About three days in all (5 s + ... + 6 x 10 h = 67.6 h).
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    *(timedelta(hours=10),) * 6,
)
JITTER = 0.2
USER_AGENT = "feedback-svc-webhooks/1"
_encoder = msgspec.json.Encoder()


def retry_delay(
    attempts: int,
    *,
    schedule: Sequence[timedelta] = RETRY_SCHEDULE,
    rand: Callable[[], float] = random.random,
) -> timedelta | None:
    """The wait after failed attempt number `attempts`, or None when no attempt is left.

    Jitter of +-20% spreads out the retries of deliveries that failed together (a receiver
    that was down), so they do not all come back at the same second.
    """
    if attempts > len(schedule):
        return None
    nominal = schedule[max(attempts, 1) - 1]
    return nominal * (1 - JITTER + 2 * JITTER * rand())


class Outcome(msgspec.Struct, frozen=True):
    status_code: int | None
    error: str | None  # None when the receiver took it


class WebhookDeliverer:
    """Delivers due webhooks until stopped; safe with many of these on one database."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        allow_private: bool,
        timeout: float,
        name: str | None = None,
        batch_size: int = 20,
        idle_interval: float = 1.0,
        schedule: Sequence[timedelta] = RETRY_SCHEDULE,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.pool = pool
        self.allow_private = allow_private
        self.timeout = timeout
        self.name = name or default_worker_name()
        self.batch_size = batch_size
        # a batch is sent side by side, each bounded by _deadline: the lease outlasts it
        self.lease = timedelta(seconds=max(60.0, 4 * self._deadline))
        self.idle_interval = idle_interval
        self.schedule = tuple(schedule)
        self.rand = rand
        self._log = log.bind(runner=self.name)

    @property
    def _deadline(self) -> float:
        # httpx bounds each step (connect, write, read) by the timeout; this bounds the whole
        return self.timeout * 2 + 1

    def client(self) -> httpx.AsyncClient:
        return webhook_client(allow_private=self.allow_private, timeout=self.timeout)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; the batch in hand is finished first."""
        self._log.info("webhook deliverer started")
        async with self.client() as http:
            while not stop.is_set():
                try:
                    claimed = await self.run_once(http)
                except Exception as error:  # the database is away: wait, then try again
                    self._log.warning("webhook claim failed", error=f"{type(error).__name__}: {error}")
                    claimed = 0
                if claimed == 0:
                    with suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=self.idle_interval)
        self._log.info("webhook deliverer stopped")

    async def run_once(self, http: httpx.AsyncClient) -> int:
        """Claim one batch and send it; returns how many deliveries were claimed."""
        batch = await queries.claim_deliveries(
            self.pool, runner=self.name, limit=self.batch_size, lease=self.lease
        )
        if batch:
            await asyncio.gather(*(self._deliver(http, delivery) for delivery in batch))
        return len(batch)

    async def _deliver(self, http: httpx.AsyncClient, delivery: Claimed) -> None:
        outcome = await self.send(http, delivery)
        try:
            await self._settle(delivery, outcome)
        except Exception as error:
            # the lease runs out and the delivery is sent again: at least once, never lost
            self._log.error(
                "webhook bookkeeping failed",
                delivery_id=delivery.id,
                error=f"{type(error).__name__}: {error}",
            )

    async def send(self, http: httpx.AsyncClient, delivery: Claimed) -> Outcome:
        body = _encoder.encode(delivery.payload)
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            **signed_headers(
                delivery.secrets, message_id=delivery.message_id, timestamp=int(time.time()), body=body
            ),
        }
        try:
            async with asyncio.timeout(self._deadline):
                # streamed and never read: a receiver's answer body is of no interest and
                # could be arbitrarily large
                async with http.stream("POST", delivery.url, content=body, headers=headers) as response:
                    status = response.status_code
        except (TimeoutError, httpx.TimeoutException):
            return Outcome(None, f"no answer within {self.timeout:g} s")
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            return Outcome(None, f"{type(error).__name__}: {error}"[:300])
        except Exception as error:  # whatever it was, the delivery is retried, not lost
            self._log.warning("webhook send broke", delivery_id=delivery.id, error=type(error).__name__)
            return Outcome(None, f"could not send: {type(error).__name__}")
        if 200 <= status < 300:
            return Outcome(status, None)
        if 300 <= status < 400:
            return Outcome(status, f"HTTP {status}: redirects are not followed; register the final URL")
        return Outcome(status, f"HTTP {status}")

    async def _settle(self, delivery: Claimed, outcome: Outcome) -> None:
        fields = {
            "delivery_id": delivery.id,
            "endpoint_id": str(delivery.endpoint_id),
            "message_id": delivery.message_id,
            "attempt": delivery.attempts,
            "status_code": outcome.status_code,
        }
        if outcome.error is None:
            assert outcome.status_code is not None
            await queries.mark_succeeded(
                self.pool, delivery_id=delivery.id, runner=self.name, status_code=outcome.status_code
            )
            self._log.info("webhook delivered", **fields)
        elif outcome.status_code == 410:
            await queries.disable_gone_endpoint(
                self.pool, delivery_id=delivery.id, runner=self.name, error=outcome.error
            )
            self._log.warning("webhook endpoint gone: disabled", **fields)
        else:
            delay = retry_delay(delivery.attempts, schedule=self.schedule, rand=self.rand)
            if delay is None:
                await queries.mark_failed(
                    self.pool,
                    delivery_id=delivery.id,
                    runner=self.name,
                    status_code=outcome.status_code,
                    error=outcome.error,
                )
                self._log.warning("webhook failed, out of attempts", error=outcome.error, **fields)
            else:
                await queries.mark_retry(
                    self.pool,
                    delivery_id=delivery.id,
                    runner=self.name,
                    delay=delay,
                    status_code=outcome.status_code,
                    error=outcome.error,
                )
                self._log.warning(
                    "webhook retry scheduled",
                    error=outcome.error,
                    retry_in_seconds=round(delay.total_seconds(), 1),
                    **fields,
                )
