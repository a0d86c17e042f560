"""Sends a survey invitation when its outbox job ("invitation.send") comes due.

The decision is checked again under a lock first, because time has passed since it was
taken: the customer may have opted out, been erased, or answered through another path.
The message itself goes out after that transaction commits, so no row is locked while
an SMTP relay or SMS provider takes its time. A crash between the send and marking it
'sent' means the job runs again and the customer may get the email twice (with the same
Message-ID and link); the SMS provider drops the repeat by its idempotency key. The
transaction that records the send also plans the invitation's first reminder (reminders.py).

When our own settings stop the send (SMTP not configured, login or sender refused), the
invitation is not failed: it waits, still 'queued' with the reason, and is tried again with
growing pauses (up to an hour) until an operator fixes the settings, or until its link would
expire before the next try, which is when a late survey stops being worth sending. The
outbox worker's own retries give up after about an hour, too soon for a person to notice and
fix a password, so each wait is a fresh job (its payload counts the failed tries). An outage
on the far side (relay or provider down, 4xx/5xx answers) is retried by the worker itself for
the first few tries and then waits the same way, so a relay down for an afternoon delays the
surveys instead of stranding them. A refused recipient, by contrast, fails the invitation at
once: no setting can fix it.
"""

from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

import asyncpg
import structlog

from feedback_svc.db.sql import load_queries
from feedback_svc.delivery.errors import (
    PermanentDeliveryError,
    SettingsDeliveryError,
    TransientDeliveryError,
)
from feedback_svc.outbox.queries import Job, enqueue
from feedback_svc.outbox.worker import backoff_delay
from feedback_svc.settings import Settings
from feedback_svc.surveys.messages import sms_idempotency_key, survey_email, survey_sms
from feedback_svc.surveys.queries import opted_out_channels
from feedback_svc.surveys.reminders import default_rule, plan_reminder
from feedback_svc.surveys.service import SEND_TOPIC

Q = load_queries(Path(__file__).with_name("sending.sql"))

log = structlog.get_logger(__name__)

TOPIC = SEND_TOPIC
WAITING = ("queued", "scheduled")
# Tries the outbox worker retries itself (10 s to 80 s apart) before a send that failed for a
# passing reason waits in fresh jobs. Well below OutboxWorker's max_attempts, which buries a
# job (and would leave its invitation 'queued' with nothing left to send it).
WORKER_TRIES = 5


class EmailSender(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class SmsSender(Protocol):
    async def send(self, *, to: str, body: str, idempotency_key: str) -> str: ...


class InvitationSender:
    """The outbox handler for "invitation.send"; the senders are passed in (real ones in tests too)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        settings: Settings,
        email: EmailSender,
        sms: SmsSender,
        brand_name: str,
    ) -> None:
        if not settings.secret_key:
            raise ValueError("InvitationSender needs settings.secret_key to derive survey links")
        self._pool = pool
        self._secret_key = settings.secret_key
        self._base_url = settings.base_url
        self._mail_from = settings.mail_from
        self._reminders = default_rule(settings)
        self._email = email
        self._sms = sms
        self._brand = brand_name

    async def __call__(self, job: Job) -> None:
        invitation_id = UUID(job.payload["invitation_id"])
        invitation = await self._take(invitation_id)
        if invitation is None:
            return
        channel = invitation["channel"]
        try:
            if channel == "email":
                await self._email.send(
                    survey_email(
                        invitation,
                        to=invitation["email"],
                        secret_key=self._secret_key,
                        base_url=self._base_url,
                        mail_from=self._mail_from,
                        brand=self._brand,
                    )
                )
            else:
                await self._sms.send(
                    to=invitation["phone"],
                    body=survey_sms(invitation, brand=self._brand),
                    idempotency_key=sms_idempotency_key(invitation),
                )
        except SettingsDeliveryError as error:
            await self._wait(job, invitation, error, settings=True)
            return
        except TransientDeliveryError as error:
            if job.attempts < WORKER_TRIES and "waits" not in job.payload:
                raise  # the worker tries again soon
            await self._wait(job, invitation, error, settings=False)
            return
        except PermanentDeliveryError as error:
            await self._pool.execute(Q["mark_invitation_failed"], invitation_id, f"failed: {error}")
            log.warning("invitation failed", invitation_id=str(invitation_id), channel=channel)
            raise
        async with self._pool.acquire() as conn, conn.transaction():
            customer = await conn.fetchrow(Q["lock_customer_of_invitation"], invitation_id)
            sent_at = await conn.fetchval(Q["mark_invitation_sent"], invitation_id)
            # erased while the message was on its way: the number must not be kept for replies
            if channel == "sms" and customer is not None and customer["erased_at"] is None:
                await conn.execute(Q["start_sms_conversation"], invitation["phone"], invitation_id)
            if sent_at is not None:  # not answered meanwhile: it may need a reminder
                await plan_reminder(
                    conn, invitation_id=invitation_id, number=1, after=sent_at, default=self._reminders
                )
        log.info("invitation sent", invitation_id=str(invitation_id), channel=channel)

    async def _take(self, invitation_id: UUID) -> dict[str, Any] | None:
        """Lock and re-check the invitation; returns it marked 'queued', or None if not to be sent."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.fetchrow(Q["lock_customer_of_invitation"], invitation_id)
            record = await conn.fetchrow(Q["lock_invitation_for_send"], invitation_id)
            if record is None:  # its customer was deleted
                log.info("invitation gone", invitation_id=str(invitation_id))
                return None
            invitation = dict(record)
            if invitation["status"] not in WAITING or invitation["channel"] not in ("email", "sms"):
                # sent, answered or suppressed meanwhile: a repeated job is a no-op
                return None
            if invitation["expires_at"] <= datetime.now(UTC):
                # a link that no longer opens is not worth a message
                await conn.execute(
                    Q["set_invitation_status"], invitation_id, "expired", "expired before it could be sent"
                )
                log.info("invitation expired unsent", invitation_id=str(invitation_id))
                return None
            problem = await self._why_not_now(conn, invitation)
            if problem is not None:
                reason = f"suppressed at send: {problem}"
                await conn.execute(Q["set_invitation_status"], invitation_id, "suppressed", reason)
                log.info("invitation suppressed at send", invitation_id=str(invitation_id), reason=reason)
                return None
            await conn.execute(Q["set_invitation_status"], invitation_id, "queued", None)
            return invitation

    async def _wait(
        self, job: Job, invitation: dict[str, Any], error: TransientDeliveryError, *, settings: bool
    ) -> None:
        """Try again later with a fresh job, or fail the invitation once its link would expire first."""
        invitation_id = invitation["id"]
        # every failed try so far, this job's included: the pauses keep growing along the chain
        tries = int(job.payload.get("waits", 0)) + job.attempts
        delay = backoff_delay(tries)
        waiting_for = "waiting for settings" if settings else "retrying"
        async with self._pool.acquire() as conn, conn.transaction():
            waiting = await conn.fetchval(
                Q["wait_for_next_try"], invitation_id, f"queued: {waiting_for}: {error}", delay
            )
            if waiting is not None:
                # keyed by this job, so a redelivered job (lease ran out) adds no second chain of tries
                await enqueue(
                    conn,
                    topic=TOPIC,
                    payload={"invitation_id": str(invitation_id), "waits": tries},
                    ordering_key=str(invitation["customer_id"]),
                    dedupe_key=f"{TOPIC}:{invitation_id}:after:{job.id}",
                    run_after=datetime.now(UTC) + delay,
                )
                failed = False
            else:
                fix = "settings not fixed" if settings else "not delivered"
                reason = f"failed: {fix} before the survey link expired: {error}"
                failed = await conn.execute(Q["mark_invitation_failed"], invitation_id, reason) == "UPDATE 1"
        if failed:
            log.warning("invitation failed", invitation_id=str(invitation_id), error=str(error))
            raise PermanentDeliveryError(f"gave up {waiting_for}: {error}") from error
        if waiting is not None:
            log.warning(
                f"invitation {'waits for settings' if settings else 'retried later'}",
                invitation_id=str(invitation_id),
                error=str(error),
                tries=tries,
                retry_in_seconds=round(delay.total_seconds(), 1),
            )

    async def _why_not_now(self, conn: asyncpg.Connection, invitation: dict[str, Any]) -> str | None:
        channel = invitation["channel"]
        if invitation["erased"]:
            return "customer erased"
        if invitation["survey_retired"]:
            return f"survey {invitation['survey']} retired"
        address = invitation["email"] if channel == "email" else invitation["phone"]
        if not address:
            return f"no {'email address' if channel == 'email' else 'phone number'}"
        opted_out = await opted_out_channels(conn, email=invitation["email"], phone=invitation["phone"])
        if channel in opted_out:
            return f"opted out of {channel}"
        return None
