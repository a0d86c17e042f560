"""Which outbox topic is handled by what: the one place a worker's work is wired."""

from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from feedback_svc.delivery.email.smtp import SmtpSender
from feedback_svc.delivery.sms.client import UNSUBSCRIBED_RECIPIENT, SmsClient, SmsRefused
from feedback_svc.imports.service import TOPIC as IMPORT_RUN
from feedback_svc.imports.service import ImportJob
from feedback_svc.outbox.events import EVENT_TOPIC, EventConsumer, event_handler
from feedback_svc.outbox.queries import Job
from feedback_svc.outbox.worker import Handler, OutboxWorker
from feedback_svc.recovery.follow_up import TOPIC as FOLLOW_UP_SEND
from feedback_svc.recovery.follow_up import FollowUpSender
from feedback_svc.recovery.pulse import TOPIC as PULSE
from feedback_svc.recovery.pulse import PulseJob
from feedback_svc.recovery.triggers import RecoveryTriggers
from feedback_svc.scoring.trainer import TOPIC as MODEL_TRAIN
from feedback_svc.scoring.trainer import TrainingJob
from feedback_svc.settings import Settings
from feedback_svc.surveys.sending import TOPIC as INVITATION_SEND
from feedback_svc.surveys.sending import InvitationSender
from feedback_svc.surveys.sms_inbound import INBOUND_TOPIC, SEND_TOPIC, process_inbound
from feedback_svc.themes.service import TOPIC as THEMES_RUN
from feedback_svc.themes.service import ThemeRunJob
from feedback_svc.webhooks.service import fan_out_event as fan_out_webhooks


def outbox_handlers(pool: asyncpg.Pool, settings: Settings, *, http: httpx.AsyncClient) -> dict[str, Handler]:
    sms = SmsClient(settings, http=http)

    async def handle_inbound_sms(job: Job) -> None:
        async with pool.acquire() as conn:
            await process_inbound(conn, job.payload["message_sid"], settings=settings, now=datetime.now(UTC))

    async def send_sms_reply(job: Job) -> None:
        try:
            await sms.send(
                to=job.payload["to"], body=job.payload["body"], idempotency_key=job.payload["idempotency_key"]
            )
        except SmsRefused as error:
            # the provider already opted the number out (and confirmed it): nothing left to do
            if error.code != UNSUBSCRIBED_RECIPIENT:
                raise

    # Each domain that reacts to events adds its consumer here (recovery triggers, webhook fan-out).
    event_consumers: list[EventConsumer] = [fan_out_webhooks, RecoveryTriggers(settings)]

    smtp = SmtpSender(settings)
    return {
        EVENT_TOPIC: event_handler(pool, event_consumers),
        INVITATION_SEND: InvitationSender(
            pool, settings=settings, email=smtp, sms=sms, brand_name=settings.brand_name
        ),
        FOLLOW_UP_SEND: FollowUpSender(pool, settings=settings, email=smtp, sms=sms),
        PULSE: PulseJob(pool, settings=settings),
        INBOUND_TOPIC: handle_inbound_sms,
        SEND_TOPIC: send_sms_reply,
        MODEL_TRAIN: TrainingJob(pool, settings=settings),
        IMPORT_RUN: ImportJob(pool, settings),
        THEMES_RUN: ThemeRunJob(pool, settings),
    }


def build_outbox_worker(pool: asyncpg.Pool, settings: Settings, *, http: httpx.AsyncClient) -> OutboxWorker:
    return OutboxWorker(
        pool,
        outbox_handlers(pool, settings, http=http),
        lease=timedelta(seconds=settings.outbox_lease_seconds),
    )
