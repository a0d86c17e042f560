"""What the reminder tests share: real channels (aiosmtpd, an SMS provider on loopback), a worker
with the invitation and reminder senders, customers invited through the API, and time passing.

Three days cannot pass in a test: where a reminder waits for its due time, its outbox job's
run_after is moved to now() (`make_reminders_due`), which stands in for the wait and nothing
else; the reminder's own row keeps the due time it was planned for.
"""

import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.delivery.email.smtp import SmtpSender
from feedback_svc.delivery.sms.client import SmsClient
from feedback_svc.outbox.worker import OutboxWorker
from feedback_svc.settings import Settings
from feedback_svc.surveys import reminders, sending
from feedback_svc.surveys.reminding import ReminderSender
from feedback_svc.surveys.sending import InvitationSender
from tests.integration.delivery.email.conftest import Inbox
from tests.integration.delivery.sms.provider import FakeProvider, running_provider
from tests.listening import SmtpController, held_port, port_of

Client = AsyncTestClient[Litestar]
BASE_URL = "https://feedback.acme.example"
MAIL_FROM = "surveys@acme.example"
PHONE = "+4915112345678"


def zone_at(low: int, high: int) -> str:
    """A time zone where it is now between `low` and `high` o'clock (so tests do not depend on
    when they run: SMS quiet hours are 21:00-09:00 in the customer's zone)."""
    now = datetime.now(UTC)
    for offset in range(-12, 15):
        name = f"Etc/GMT{-offset:+d}" if offset else "UTC"  # Etc/GMT-5 is UTC+5
        if low <= now.astimezone(ZoneInfo(name)).hour < high:
            return name
    raise AssertionError("some zone is always in any hour")


def daytime_zone() -> str:
    return zone_at(11, 18)


def night_zone() -> str:
    return zone_at(0, 6)


@pytest.fixture
def smtp_socket() -> Iterator[socket.socket]:
    """The relay's port, held until the relay listens on it (`inbox`), or refusing connections."""
    with held_port() as sock:
        yield sock


@pytest.fixture
def smtp_port(smtp_socket: socket.socket) -> int:
    return port_of(smtp_socket)


@pytest.fixture
def inbox(smtp_socket: socket.socket) -> Iterator[Inbox]:
    received = Inbox()
    controller = SmtpController(received, sock=smtp_socket)
    controller.start()
    try:
        yield received
    finally:
        controller.stop()


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with running_provider() as fake:
        yield fake


@pytest.fixture
def send_settings(settings: Settings, smtp_port: int, provider: FakeProvider) -> Settings:
    return msgspec.structs.replace(
        settings,
        public_base_url=BASE_URL,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_security="none",
        mail_from=MAIL_FROM,
        sms_base_url=provider.url,
        sms_account_sid="AC" + "1" * 32,
        sms_auth_token="test-token",
        sms_from="+15005550006",
    )


def senders(pool: asyncpg.Pool, settings: Settings) -> tuple[InvitationSender, ReminderSender]:
    email, sms = SmtpSender(settings, timeout=5), SmsClient(settings, timeout=5)
    return (
        InvitationSender(pool, settings=settings, email=email, sms=sms, brand_name="Acme"),
        ReminderSender(pool, settings=settings, email=email, sms=sms, brand_name="Acme"),
    )


def worker_for(pool: asyncpg.Pool, settings: Settings, *, name: str = "test-worker") -> OutboxWorker:
    """A worker as `feedback-svc worker` builds it for these two topics."""
    invitations, reminding = senders(pool, settings)
    return OutboxWorker(
        pool, {sending.TOPIC: invitations, reminders.TOPIC: reminding}, name=name, batch_size=50
    )


@pytest.fixture
def worker(pool: asyncpg.Pool, send_settings: Settings, inbox: Inbox) -> OutboxWorker:
    """The worker, with the relay it sends to listening."""
    return worker_for(pool, send_settings)


async def invite(
    client: Client,
    crm: dict[str, str],
    *,
    channel: str = "email",
    touchpoint: str = "relationship",  # nps, sent at once
    **customer: Any,
) -> uuid.UUID:
    """A customer and an interaction through the API; the invitation's id."""
    body = {
        "external_id": f"c-{uuid.uuid4().hex[:8]}",
        "name": "Ana",
        "email": "ana@example.com",
        "phone": PHONE,
        "time_zone": daytime_zone(),
        **customer,
    }
    created = await client.post("/v1/customers", json=body, headers=crm)
    assert created.status_code == 201, created.text
    interaction = {
        "customer_id": created.json()["id"],
        "touchpoint": touchpoint,
        "occurred_at": datetime.now(UTC).isoformat(),
        "channel_preference": channel,
    }
    recorded = await client.post("/v1/interactions", json=interaction, headers=crm)
    assert recorded.status_code == 201, recorded.text
    invitation = recorded.json()["invitation"]
    assert invitation["channel"] == channel, invitation
    return uuid.UUID(invitation["id"])


async def drain(worker: OutboxWorker) -> int:
    """Run the worker until nothing is due; the jobs claimed."""
    total = 0
    for _ in range(20):
        claimed = await worker.run_once()
        if claimed == 0:
            return total
        total += claimed
    raise AssertionError("the worker kept finding due work")


async def make_sends_due(conn: asyncpg.Connection) -> None:
    # stands in for an invitation's delay or the quiet hours it waits out
    await conn.execute(
        "UPDATE outbox SET run_after = now() WHERE topic = $1 AND status = 'pending'", sending.TOPIC
    )


async def make_reminders_due(conn: asyncpg.Connection) -> int:
    """Let the reminders' delay pass; how many reminder jobs that made due."""
    done = await conn.execute(
        "UPDATE outbox SET run_after = now() WHERE topic = $1 AND status = 'pending'", reminders.TOPIC
    )
    return int(done.split()[-1])


async def reminder_rows(conn: asyncpg.Connection, invitation_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT number, status, channel, due_at, sent_at, reason FROM invitation_reminders "
        "WHERE invitation_id = $1 ORDER BY number",
        invitation_id,
    )


async def reminder_jobs(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT payload, dedupe_key, status, attempts, run_after, last_error FROM outbox "
        "WHERE topic = $1 ORDER BY id",
        reminders.TOPIC,
    )


async def invitation_row(conn: asyncpg.Connection, invitation_id: uuid.UUID) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT status, sent_at, created_at, reminders_sent, last_reminded_at FROM invitations WHERE id = $1",
        invitation_id,
    )
    assert row is not None
    return row
