"""Closing the loop: the message an agent sends the customer when a task is resolved.

Decided in the resolution's own transaction: the channel (the one asked for, or the customer's
usable one, email first), the words (the agent's own, or the outcome's template in the
customer's locale) and whether it may go at all. An opt-out, a missing address or an erasure
does not stop the resolution: the message is stored as not_sent with the reason. The text is
stored on the task as the customer reads it.

A message that may go is queued with its outbox job ("recovery.follow_up", keyed by the task and
when the message was asked for), so it is sent once whatever crashes: the job checks the message
again under the customer's lock (opted out or erased meanwhile: not sent), sends after that
transaction commits, then marks it sent. A crash between the send and the mark sends it again
with the same Message-ID (email) or provider idempotency key (SMS), as for invitations.
An SMS waits for the end of the customer's quiet hours (21:00-09:00 in their time zone).
Our own settings wrong, or the far side down: the message waits, growing pauses, for up to
three days; a thank-you older than that reads as a mistake, so it then fails with the reason.
"""

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from uuid import UUID, uuid5

import asyncpg
import structlog

from feedback_svc.delivery.email.render import make_message_id, render_text_email
from feedback_svc.delivery.errors import (
    PermanentDeliveryError,
    SettingsDeliveryError,
    TransientDeliveryError,
)
from feedback_svc.lib.errors import InvalidInput
from feedback_svc.outbox.queries import Job, enqueue
from feedback_svc.outbox.worker import backoff_delay
from feedback_svc.recovery import closing_queries
from feedback_svc.recovery.messages import Channel, Template, compose, own_words_problem, template_locales
from feedback_svc.recovery.schemas import FollowUpRequest
from feedback_svc.settings import Settings
from feedback_svc.surveys.queries import opted_out_channels
from feedback_svc.surveys.rules import Contact, choose_channel, quiet_hours_end
from feedback_svc.surveys.sending import WORKER_TRIES, EmailSender, SmsSender

log = structlog.get_logger(__name__)

TOPIC = "recovery.follow_up"
GIVE_UP = timedelta(days=3)


async def customer_for_message(conn: asyncpg.Connection, task_id: UUID) -> dict[str, Any] | None:
    """The task's customer as the message needs them (closing.sql says why unlocked); None for no task."""
    customer_id = await closing_queries.task_customer(conn, task_id)
    if customer_id is None:
        return None
    return await closing_queries.message_customer(conn, customer_id)


async def signature(conn: asyncpg.Connection, agent: str | None, *, brand: str) -> str:
    """How {agent} reads: a console user's name, an API key's agent, or the brand for a key of nobody's."""
    if agent is None:
        return brand
    return await closing_queries.agent_name(conn, agent) or agent


async def plan_follow_up(
    conn: asyncpg.Connection,
    task: dict[str, Any],
    request: FollowUpRequest,
    *,
    customer: dict[str, Any] | None,
    agent: str,
    actor: str,
    details: dict[str, Any],
    brand: str,
    now: datetime,
) -> dict[str, Any]:
    """Store the closing message of a task just resolved (in that transaction) and queue it; the task row.

    Raises InvalidInput when the agent's words cannot go by the channel (too long for an SMS),
    which rolls the resolution back with it: nothing is half done.
    """
    channel, problem = await _channel(conn, customer, request.channel)
    message = None
    if channel is not None:
        assert customer is not None
        if request.text is not None and (
            too_long := own_words_problem(request.text, channel=channel, brand=brand)
        ):
            raise InvalidInput(
                too_long, errors=[{"field": "follow_up.text", "message": too_long, "source": "body"}]
            )
        template = await _template(conn, task["outcome"], customer["locale"])
        if template is None:
            problem = f"no message template for {task['outcome']}"
        else:
            message = compose(
                template,
                channel=channel,
                name=customer["name"],
                brand=brand,
                agent=agent,
                own_words=request.text,
            )
    run_after = None
    status, reason = ("not_sent", f"not sent: {problem}") if problem else ("queued", "queued")
    if status == "queued" and channel == "sms" and customer is not None:
        run_after = quiet_hours_end(now, customer["time_zone"])
        if run_after is not None:
            reason = f"queued: sms quiet hours in {customer['time_zone']} until {run_after:%H:%M}"
    row = await closing_queries.set_follow_up(
        conn,
        task_id=task["id"],
        channel=channel if message is not None else request.channel,
        status=status,
        reason=reason,
        source="agent" if request.text else "template",
        locale=message.locale if message else None,
        subject=message.subject if message else None,
        text=message.text if message else request.text,
        actor=actor,
        details=details,
    )
    if status == "queued":
        requested = row["follow_up_requested_at"].isoformat()
        await enqueue(
            conn,
            topic=TOPIC,
            payload={"task_id": str(task["id"]), "requested_at": requested},
            # an erasure drops the customer's queued work by this key
            ordering_key=str(task["customer_id"]),
            dedupe_key=f"{TOPIC}:{task['id']}:{requested}",
            run_after=run_after,
        )
    return row


async def _channel(
    conn: asyncpg.Connection, customer: dict[str, Any] | None, asked: Channel | None
) -> tuple[Channel | None, str | None]:
    """The channel the message goes by, or None with why none may."""
    if customer is None or customer["erased_at"] is not None:
        return None, "customer erased"
    opted_out = await opted_out_channels(conn, email=customer["email"], phone=customer["phone"])
    contact = Contact(email=customer["email"], phone=customer["phone"], time_zone=customer["time_zone"])
    if asked is None:
        chosen, problem = choose_channel(contact, None, opted_out)
        return (chosen, None) if chosen in ("email", "sms") else (None, f"no usable channel: {problem}")
    if not (customer["email"] if asked == "email" else customer["phone"]):
        return None, f"no {'email address' if asked == 'email' else 'phone number'}"
    if asked in opted_out:
        return None, f"opted out of {asked}"
    return asked, None


async def _template(conn: asyncpg.Connection, outcome: str, locale: str | None) -> Template | None:
    row = await closing_queries.message_template(conn, outcome=outcome, locales=template_locales(locale))
    if row is None:
        return None
    return Template(**{field: row[field] for field in Template.__struct_fields__})


class FollowUpSender:
    """The outbox handler for "recovery.follow_up"; the senders are passed in (real ones in tests too)."""

    def __init__(self, pool: asyncpg.Pool, *, settings: Settings, email: EmailSender, sms: SmsSender) -> None:
        self._pool = pool
        self._mail_from = settings.mail_from
        self._brand = settings.brand_name
        self._email = email
        self._sms = sms

    async def __call__(self, job: Job) -> None:
        task_id = UUID(job.payload["task_id"])
        requested_at = datetime.fromisoformat(job.payload["requested_at"])
        message = await self._take(task_id, requested_at)
        if message is None:
            return
        channel = message["channel"]
        key = uuid5(task_id, requested_at.isoformat())
        try:
            if channel == "email":
                await self._email.send(self._email_message(message, key))
            else:
                await self._sms.send(
                    to=message["phone"], body=message["text"], idempotency_key=f"follow-up-{key}"
                )
        except SettingsDeliveryError as error:
            await self._wait(job, message, error, settings=True)
            return
        except TransientDeliveryError as error:
            if job.attempts < WORKER_TRIES and "waits" not in job.payload:
                raise  # the worker tries again soon
            await self._wait(job, message, error, settings=False)
            return
        except PermanentDeliveryError as error:
            await closing_queries.settle_follow_up(
                self._pool,
                task_id=task_id,
                status="failed",
                requested_at=requested_at,
                reason=f"failed: {error}",
            )
            log.warning("closing message failed", task_id=str(task_id), channel=channel)
            raise
        await closing_queries.settle_follow_up(
            self._pool, task_id=task_id, status="sent", requested_at=requested_at, reason=f"sent by {channel}"
        )
        log.info("closing message sent", task_id=str(task_id), channel=channel)

    async def _take(self, task_id: UUID, requested_at: datetime) -> dict[str, Any] | None:
        """Lock and check the message again; returns it while it may go, else None (settled if need be)."""
        async with self._pool.acquire() as conn, conn.transaction():
            await closing_queries.lock_customer_of_task(conn, task_id)
            row = await closing_queries.lock_follow_up_for_send(conn, task_id)
            if row is None or row["status"] != "queued" or row["requested_at"] != requested_at:
                return None  # sent, settled or replaced meanwhile: a repeated job is a no-op
            problem = _why_not_now(
                row, await opted_out_channels(conn, email=row["email"], phone=row["phone"])
            )
            if problem is not None:
                await closing_queries.settle_follow_up(
                    conn,
                    task_id=task_id,
                    status="not_sent",
                    requested_at=requested_at,
                    reason=f"not sent: {problem}",
                    forget=row["erased"],
                )
                log.info("closing message not sent", task_id=str(task_id), reason=problem)
                return None
            return row

    async def _wait(
        self, job: Job, message: dict[str, Any], error: TransientDeliveryError, *, settings: bool
    ) -> None:
        """Try again later with a fresh job, or fail the message once it would come too late."""
        task_id, requested_at = message["id"], message["requested_at"]
        tries = int(job.payload.get("waits", 0)) + job.attempts
        delay = backoff_delay(tries)
        waiting_for = "waiting for settings" if settings else "retrying"
        async with self._pool.acquire() as conn, conn.transaction():
            waiting = await closing_queries.follow_up_waits(
                conn,
                task_id=task_id,
                requested_at=requested_at,
                reason=f"queued: {waiting_for}: {error}",
                give_up=GIVE_UP,
                delay=delay,
            )
            if waiting:
                # keyed by this job, so a redelivered job adds no second chain of tries
                await enqueue(
                    conn,
                    topic=TOPIC,
                    payload={**job.payload, "waits": tries},
                    ordering_key=str(message["customer_id"]),
                    dedupe_key=f"{TOPIC}:{task_id}:after:{job.id}",
                    run_after=datetime.now(UTC) + delay,
                )
                failed = False
            else:
                failed = await closing_queries.settle_follow_up(
                    conn,
                    task_id=task_id,
                    status="failed",
                    requested_at=requested_at,
                    reason=f"failed: not delivered within {GIVE_UP.days} days: {error}",
                )
        if failed:
            log.warning("closing message failed", task_id=str(task_id), error=str(error))
            raise PermanentDeliveryError(f"gave up {waiting_for}: {error}") from error
        if waiting:
            log.warning("closing message waits", task_id=str(task_id), error=str(error), tries=tries)

    def _email_message(self, message: dict[str, Any], key: UUID) -> EmailMessage:
        try:
            return render_text_email(
                to=message["email"],
                from_address=self._mail_from,
                brand_name=self._brand,
                subject=message["subject"] or self._brand,
                text=message["text"],
                message_id=make_message_id(key, mail_from=self._mail_from, kind="follow-up"),
                locale=message["locale"] or "en",
            )
        except ValueError as error:
            # an address or setting the email cannot carry; a retry would build the same message
            raise PermanentDeliveryError(f"cannot build the closing email: {error}") from error


def _why_not_now(message: dict[str, Any], opted_out: frozenset[str]) -> str | None:
    channel = message["channel"]
    if message["erased"]:
        return "customer erased"
    if not (message["email"] if channel == "email" else message["phone"]):
        return f"no {'email address' if channel == 'email' else 'phone number'}"
    if channel in opted_out:
        return f"opted out of {channel}"
    return None
