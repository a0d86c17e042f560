"""Reminders for unanswered invitations: planned when the invitation goes, sent when due.

Each reminder is a row per (invitation, number) and an outbox job ("invitation.remind")
deduplicated by the same natural key, run at its due time. When it comes due it is decided
again under the invitation's lock (rules.decide_reminder): an answer that came in first, an
opt-out, an erasure, an expired link or a rule turned down since all win, and the reminder is
recorded as skipped with the reason. A reminder goes on the same link, in the invitation's
channel unless that was opted out since (then in the other one, as an invitation falls back),
never in SMS quiet hours (the job is deferred to their end), and creates no invitation: the
contact cooldown counts invitations, so a reminder never holds back the next survey.

As for invitations, the message goes out after the deciding transaction has committed, so no
row is locked while a relay or provider takes its time; an answer arriving in that moment is
stored as usual and the reminder is recorded as having crossed it. A crash between the send
and its record sends again: the email with the same Message-ID, the SMS with the same
idempotency key, which the provider drops.
"""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import structlog

from feedback_svc.delivery.errors import PermanentDeliveryError, TransientDeliveryError
from feedback_svc.outbox.queries import Job
from feedback_svc.outbox.worker import RunLater
from feedback_svc.settings import Settings
from feedback_svc.surveys.messages import sms_idempotency_key, survey_email, survey_sms
from feedback_svc.surveys.queries import opted_out_channels
from feedback_svc.surveys.reminders import Q, default_rule, plan_reminder
from feedback_svc.surveys.rules import Contact, ReminderDecision, decide_reminder, reminder_rule
from feedback_svc.surveys.sending import EmailSender, SmsSender
from feedback_svc.surveys.sending import Q as SENDING

log = structlog.get_logger(__name__)

# Tries of one reminder (the worker's own retries, 10 s doubling to about 20 minutes apart:
# some 40 minutes in all) before a relay or provider outage fails it. A reminder is a nudge;
# one that comes hours late is not worth holding a chain of retries for, as an invitation is.
REMINDER_TRIES = 9


class ReminderSender:
    """The outbox handler for "invitation.remind"; the senders are those of the invitations."""

    def __init__(
        self, pool: asyncpg.Pool, *, settings: Settings, email: EmailSender, sms: SmsSender, brand_name: str
    ) -> None:
        if not settings.secret_key:
            raise ValueError("ReminderSender needs settings.secret_key to derive survey links")
        self._pool = pool
        self._secret_key = settings.secret_key
        self._base_url = settings.base_url
        self._mail_from = settings.mail_from
        self._default = default_rule(settings)
        self._email = email
        self._sms = sms
        self._brand = brand_name

    async def __call__(self, job: Job) -> None:
        invitation_id = UUID(job.payload["invitation_id"])
        number = int(job.payload["number"])
        taken = await self._take(invitation_id, number)
        if isinstance(taken, RunLater):
            raise taken
        if taken is None:
            return
        invitation, channel = taken
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
                        reminder=number,
                    )
                )
            else:
                await self._sms.send(
                    to=invitation["phone"],
                    body=survey_sms(invitation, brand=self._brand, reminder=number),
                    idempotency_key=sms_idempotency_key(invitation, reminder=number),
                )
        except TransientDeliveryError as error:  # settings errors too: a reminder does not wait for them
            if job.attempts < REMINDER_TRIES:
                raise  # the worker tries again soon, and the reminder is decided again then
            await self._fail(invitation_id, number, f"failed: not delivered: {error}")
            return
        except PermanentDeliveryError as error:
            await self._fail(invitation_id, number, f"failed: {error}")
            raise
        await self._record(invitation, number, channel)

    async def _take(self, invitation_id: UUID, number: int) -> tuple[dict[str, Any], str] | RunLater | None:
        """Lock and decide: the invitation and the channel to send by, a deferral, or None."""
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.fetchrow(SENDING["lock_customer_of_invitation"], invitation_id)
            record = await conn.fetchrow(Q["lock_invitation_for_reminder"], invitation_id)
            reminder = await conn.fetchrow(Q["lock_reminder"], invitation_id, number)
            if record is None or reminder is None or reminder["status"] not in ("scheduled", "sending"):
                return None  # its customer was deleted, or a repeated job: done before
            invitation = dict(record)
            decision = decide_reminder(
                contact=Contact(
                    email=invitation["email"],
                    phone=invitation["phone"],
                    time_zone=invitation["time_zone"],
                    erased=invitation["erased"],
                ),
                invitation_status=invitation["status"],
                original=invitation["channel"],
                opted_out=await opted_out_channels(
                    conn, email=invitation["email"], phone=invitation["phone"]
                ),
                number=number,
                rule=reminder_rule(
                    count=invitation["reminder_count"],
                    delay=invitation["reminder_delay"],
                    default=self._default,
                ),
                expires_at=invitation["expires_at"],
                now=now,
            )
            if invitation["survey_retired"]:
                decision = ReminderDecision(action="skip", reason="the survey is retired")
            if decision.action == "skip":
                reason = f"skipped: {decision.reason}"
                if reminder["status"] == "sending":
                    reason += " (an earlier try may have reached the customer)"
                await conn.execute(Q["set_reminder"], invitation_id, number, "skipped", None, reason, None)
                log.info("reminder skipped", invitation_id=str(invitation_id), number=number, reason=reason)
                return None
            if decision.action == "wait":
                reason = f"waiting: {decision.reason}"
                await conn.execute(
                    Q["set_reminder"],
                    invitation_id,
                    number,
                    "scheduled",
                    decision.channel,
                    reason,
                    decision.send_at,
                )
                assert decision.send_at is not None
                return RunLater(decision.send_at, reason)
            await conn.execute(
                Q["set_reminder"], invitation_id, number, "sending", decision.channel, decision.reason, None
            )
            assert decision.channel is not None
            return invitation, decision.channel

    async def _record(self, invitation: dict[str, Any], number: int, channel: str) -> None:
        invitation_id = invitation["id"]
        async with self._pool.acquire() as conn, conn.transaction():
            customer = await conn.fetchrow(SENDING["lock_customer_of_invitation"], invitation_id)
            marked = await conn.fetchrow(Q["mark_reminder_sent"], invitation_id, number)
            if marked is None:
                return  # another worker (whose lease ran out on us) recorded it
            if marked["status"] != "sent":
                # the answer came in while the reminder was on its way: it stays the answer, and
                # analytics counts it as given before the reminder (it was)
                await conn.execute(
                    Q["set_reminder"],
                    invitation_id,
                    number,
                    "sent",
                    None,
                    f"{marked['reason']}; the invitation was {marked['status']} while it was on its way",
                    None,
                )
                log.info("reminder crossed an answer", invitation_id=str(invitation_id), number=number)
                return
            # erased while it was on its way: the number must not be kept for replies
            if channel == "sms" and customer is not None and customer["erased_at"] is None:
                await conn.execute(SENDING["start_sms_conversation"], invitation["phone"], invitation_id)
            await plan_reminder(
                conn,
                invitation_id=invitation_id,
                number=number + 1,
                after=marked["sent_at"],
                default=self._default,
                channel=channel,
            )
        log.info("reminder sent", invitation_id=str(invitation_id), number=number, channel=channel)

    async def _fail(self, invitation_id: UUID, number: int, reason: str) -> None:
        await self._pool.execute(Q["fail_reminder"], invitation_id, number, reason[:2000])
        log.warning("reminder failed", invitation_id=str(invitation_id), number=number, reason=reason)
