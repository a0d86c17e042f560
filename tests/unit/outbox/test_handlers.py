"""The worker's wiring: each topic's handler works on the service's pool, and every sender that
may text uses the one SMS client (the integration tests build their senders themselves)."""

from datetime import timedelta
from typing import Any, cast

import asyncpg
import httpx

from feedback_svc.delivery.sms.client import SmsClient
from feedback_svc.outbox.handlers import build_outbox_worker, outbox_handlers
from feedback_svc.scoring.trainer import TOPIC as MODEL_TRAIN
from feedback_svc.settings import Settings
from feedback_svc.surveys.reminders import TOPIC as INVITATION_REMIND
from feedback_svc.surveys.sending import TOPIC as INVITATION_SEND


def built() -> tuple[object, dict[str, Any]]:
    pool = object()  # never used here: building the handlers opens nothing
    settings = Settings(database_url="postgresql://unused/db", secret_key="k" * 40)
    return pool, outbox_handlers(cast("asyncpg.Pool", pool), settings, http=httpx.AsyncClient())


def test_every_job_object_works_on_the_given_pool() -> None:
    pool, handlers = built()
    jobs = {topic: h for topic, h in handlers.items() if hasattr(h, "pool") or hasattr(h, "_pool")}
    assert {MODEL_TRAIN, INVITATION_SEND, INVITATION_REMIND} <= set(jobs)
    for topic, job in jobs.items():
        assert getattr(job, "pool", getattr(job, "_pool", None)) is pool, topic


def test_invitations_reminders_and_follow_ups_share_one_sms_client() -> None:
    _, handlers = built()
    texting = [h for h in handlers.values() if hasattr(h, "_sms")]
    assert len(texting) == 3
    clients = {id(h._sms) for h in texting}
    assert len(clients) == 1
    assert all(isinstance(h._sms, SmsClient) for h in texting)


def test_the_worker_holds_jobs_for_the_configured_lease() -> None:
    settings = Settings(database_url="postgresql://unused/db", secret_key="k" * 40, outbox_lease_seconds=17)
    worker = build_outbox_worker(cast("asyncpg.Pool", object()), settings, http=httpx.AsyncClient())
    assert worker.lease == timedelta(seconds=17)
    # an idle worker looks for new jobs every second: a webhook or an email waits at most that long
    assert worker.idle_interval == 1.0
