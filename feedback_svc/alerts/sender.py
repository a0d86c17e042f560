"""Sends pending alerts: claim a batch, one message per recipient, then settle each alert in it.

Any number of processes may run this side by side: claims use SKIP LOCKED and a lease, and
settling only counts while the lease is still ours. A runner that dies after its claim leaves
the alerts leased; when the lease runs out another runner sends them, as the same message (the
claim keeps its key), so nothing is lost. A runner that dies after the relay or receiver took
the message but before it recorded that sends it again with the same Message-ID / webhook-id,
which the receiver can drop: at least once, like every other delivery here.

Bounded repeats: an alert is raised at most once per task, trigger, occasion and recipient
(service.py); alerts waiting for one recipient go out together as one message; and a recipient
gets at most FEEDBACK_ALERTS_PER_RECIPIENT_PER_HOUR messages an hour, the rest waiting for the
next free moment and then going out together ("and N more").
"""

import asyncio
import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any, Protocol

import asyncpg
import httpx
import msgspec
import structlog

from feedback_svc.alerts import queries
from feedback_svc.alerts.messages import (
    Message,
    alert_view,
    compose,
    email_message,
    message_id,
    slack_payload,
)
from feedback_svc.alerts.queries import Claimed
from feedback_svc.delivery.email.smtp import SmtpSender
from feedback_svc.delivery.errors import PermanentDeliveryError, TransientDeliveryError
from feedback_svc.outbox.worker import default_worker_name
from feedback_svc.settings import Settings
from feedback_svc.webhooks.delivery import retry_delay
from feedback_svc.webhooks.signing import signed_headers
from feedback_svc.webhooks.targets import webhook_client

log = structlog.get_logger(__name__)

# Alerts are about hours-long promises: after about four hours of failed tries one is failed
# (and kept, with the reason) rather than arriving after the moment it was about.
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
)
WINDOW = timedelta(hours=1)
LEASE = timedelta(minutes=5)  # above an SMTP conversation's worst case (30 s a step) and a POST's
USER_AGENT = "feedback-svc-alerts/1"
_encoder = msgspec.json.Encoder()


class EmailSender(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class Outcome(msgspec.Struct, frozen=True):
    error: str | None = None  # None: the relay or receiver took it
    permanent: bool = False


def stale_reason(row: dict[str, Any]) -> str | None:
    """Why an alert is no longer worth sending, or None while it still is."""
    if row["task_status"] != "open":
        return "the task was resolved before the alert went out"
    if row["user_disabled"]:
        return "the console account was disabled"
    if row["trigger"] in ("deadline_near", "escalated") and row["first_contact_at"] is not None:
        return "the customer was contacted before the alert went out"
    if row["trigger"] == "deadline_near" and row["escalated_at"] is not None:
        return "the deadline passed: the escalation alert says so"
    return None


class AlertSender:
    """Sends due alerts until stopped; safe with many of these on one database."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: Settings,
        *,
        email: EmailSender | None = None,
        name: str | None = None,
        recipients_per_claim: int = 50,
        idle_interval: float = 1.0,
        lease: timedelta = LEASE,
        schedule: Sequence[timedelta] = RETRY_SCHEDULE,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.pool = pool
        self.email = email or SmtpSender(settings)
        self.allow_private = settings.webhooks_allow_private
        self.timeout = settings.webhooks_timeout_seconds
        self.secret = settings.alerts_signing_secret
        self.base_url = settings.base_url
        self.brand = settings.brand_name
        self.mail_from = settings.mail_from
        self.cap = settings.alerts_per_recipient_per_hour
        self.name = name or default_worker_name()
        # every due alert of each recipient is claimed: a storm for one person is one message
        self.recipients_per_claim = recipients_per_claim
        self.idle_interval = idle_interval
        self.lease = lease
        self.schedule = tuple(schedule)
        self.rand = rand
        self._log = log.bind(runner=self.name)

    def client(self) -> httpx.AsyncClient:
        """Slack-compatible URLs go through the webhooks' guarded client (no private targets)."""
        return webhook_client(allow_private=self.allow_private, timeout=self.timeout)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; the batch in hand is finished first."""
        self._log.info("alert sender started")
        async with self.client() as http:
            while not stop.is_set():
                try:
                    claimed = await self.run_once(http)
                except Exception as error:  # the database is away: wait, then try again
                    self._log.warning("alert claim failed", error=f"{type(error).__name__}: {error}")
                    claimed = 0
                if claimed == 0:
                    with suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=self.idle_interval)
        self._log.info("alert sender stopped")

    async def run_once(self, http: httpx.AsyncClient) -> int:
        """Claim one batch and send it, a message per recipient; returns how many alerts were claimed."""
        claimed = await queries.claim_alerts(
            self.pool, runner=self.name, recipients=self.recipients_per_claim, lease=self.lease
        )
        messages: dict[int, list[Claimed]] = defaultdict(list)
        for alert in claimed:
            messages[alert.message_key].append(alert)
        await asyncio.gather(*(self._deliver(http, key, alerts) for key, alerts in messages.items()))
        return len(claimed)

    async def _deliver(self, http: httpx.AsyncClient, key: int, alerts: list[Claimed]) -> None:
        try:
            await self.deliver(http, key, alerts)
        except Exception as error:
            # the lease runs out and the message is sent again: at least once, never lost
            self._log.error(
                "alert bookkeeping failed", message_key=key, error=f"{type(error).__name__}: {error}"
            )

    async def deliver(self, http: httpx.AsyncClient, key: int, alerts: list[Claimed]) -> None:
        channel, recipient = alerts[0].channel, alerts[0].recipient
        rows = await queries.alert_context(self.pool, [alert.id for alert in alerts])
        stale: dict[str, list[int]] = defaultdict(list)
        live = []
        for row in rows:
            reason = stale_reason(row)
            if reason is None:
                live.append(row)
            else:
                stale[reason].append(row["id"])
        for reason, ids in stale.items():
            await queries.cancel_alerts(self.pool, ids, runner=self.name, reason=reason)
        if not live:
            return
        ids = [row["id"] for row in live]
        if all(row["attempts"] == 1 for row in live) and await self._defer_if_capped(channel, recipient, ids):
            return
        now = datetime.now(UTC)
        zone = next((row["time_zone"] for row in live if row["time_zone"]), None)
        views = [alert_view(row, base_url=self.base_url, zone=zone, now=now) for row in live]
        message = compose(key, views, base_url=self.base_url)
        if channel == "email":
            outcome = await self.send_email(message, to=recipient)
        else:
            outcome = await self.send_slack(http, message, url=recipient)
        await self._settle(ids, message, outcome, channel=channel, attempts=max(r["attempts"] for r in live))

    async def _defer_if_capped(self, channel: str, recipient: str, ids: list[int]) -> bool:
        """A recipient past the hour's share waits for the next free moment; True when deferred."""
        recent = await queries.recent_messages(self.pool, channel=channel, recipient=recipient, window=WINDOW)
        if recent["messages"] < self.cap:
            return False
        until = recent["oldest"] + WINDOW
        await queries.defer_alerts(self.pool, ids, runner=self.name, until=until)
        self._log.info(
            "alerts wait for the recipient's hourly cap", channel=channel, alerts=len(ids), until=str(until)
        )
        return True

    async def send_email(self, message: Message, *, to: str) -> Outcome:
        try:
            email = email_message(message, to=to, from_address=self.mail_from, brand=self.brand)
        except ValueError as error:
            return Outcome(f"cannot write this email: {error}", permanent=True)
        try:
            await self.email.send(email)
        except PermanentDeliveryError as error:
            return Outcome(str(error), permanent=True)
        except TransientDeliveryError as error:
            return Outcome(str(error))
        return Outcome()

    async def send_slack(self, http: httpx.AsyncClient, message: Message, *, url: str) -> Outcome:
        body = _encoder.encode(slack_payload(message))
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": message_id(message.key),
        }
        if self.secret:
            # receivers that check Standard Webhooks signatures can; Slack ignores the headers
            headers |= signed_headers(
                [self.secret], message_id=message_id(message.key), timestamp=int(time.time()), body=body
            )
        try:
            async with asyncio.timeout(self.timeout * 2 + 1):
                # streamed and never read: the receiver's answer body is of no interest
                async with http.stream("POST", url, content=body, headers=headers) as response:
                    status = response.status_code
        except (TimeoutError, httpx.TimeoutException):
            return Outcome(f"no answer within {self.timeout:g} s")
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            return Outcome(f"{type(error).__name__}: {error}"[:300])
        if 200 <= status < 300:
            return Outcome()
        if status in (408, 429) or status >= 500:
            return Outcome(f"HTTP {status}")
        if 300 <= status < 400:
            return Outcome(f"HTTP {status}: redirects are not followed; give the final URL", permanent=True)
        return Outcome(
            f"HTTP {status}: the receiver refuses it (a revoked or mistyped webhook URL?)", permanent=True
        )

    async def _settle(
        self, ids: list[int], message: Message, outcome: Outcome, *, channel: str, attempts: int
    ) -> None:
        fields = {"message_key": message.key, "channel": channel, "alerts": len(ids), "attempt": attempts}
        if outcome.error is None:
            await queries.mark_sent(self.pool, ids, runner=self.name)
            self._log.info("alert sent", **fields)
            return
        delay = None if outcome.permanent else retry_delay(attempts, schedule=self.schedule, rand=self.rand)
        if delay is None:
            error = outcome.error if outcome.permanent else f"gave up after {attempts} tries: {outcome.error}"
            await queries.mark_failed(self.pool, ids, runner=self.name, error=error)
            self._log.warning("alert failed", error=error, **fields)
        else:
            await queries.mark_retry(self.pool, ids, runner=self.name, delay=delay, error=outcome.error)
            self._log.warning(
                "alert retry scheduled",
                error=outcome.error,
                retry_in_seconds=round(delay.total_seconds(), 1),
                **fields,
            )
