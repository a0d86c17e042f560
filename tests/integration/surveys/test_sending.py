"""Sending invitations through the outbox worker, to a real SMTP server and an SMS provider stand-in."""

import hashlib
import re
import socket
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec
import pytest
from aiosmtpd.controller import Controller
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.delivery.email.smtp import SmtpSender
from feedback_svc.delivery.sms.client import IDEMPOTENCY_HEADER, SmsClient
from feedback_svc.outbox.queries import Job
from feedback_svc.outbox.worker import OutboxWorker
from feedback_svc.settings import Settings
from feedback_svc.surveys.sending import TOPIC, InvitationSender
from tests.conftest import KeyFactory
from tests.integration.delivery.email.conftest import (
    Inbox,
    Passwords,
)
from tests.integration.delivery.sms.provider import FakeProvider, running_provider
from tests.listening import SmtpController, held_port, port_of

Client = AsyncTestClient[Litestar]
BASE_URL = "https://feedback.acme.example"
LINK = re.compile(re.escape(BASE_URL) + r"/s/([A-Za-z0-9_-]{32})\?score=(\d+)")


@pytest.fixture
def smtp_socket() -> Iterator[socket.socket]:
    """The relay's port, held (connections refused) until a relay listens on it."""
    with held_port() as sock:
        yield sock


@pytest.fixture
def smtp_port(smtp_socket: socket.socket) -> int:
    return port_of(smtp_socket)


@pytest.fixture
def start_smtp() -> Iterator[Callable[..., int]]:
    """Start a relay on `sock` (a held port) or on port 0; the port it listens on."""
    controllers: list[Controller] = []

    def start(inbox: Inbox, sock: socket.socket | None = None, **options: Any) -> int:
        controller = SmtpController(inbox, sock=sock, **options)
        controller.start()
        controllers.append(controller)
        return controller.port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def inbox(start_smtp: Callable[..., int], smtp_socket: socket.socket) -> Inbox:
    received = Inbox()
    start_smtp(received, smtp_socket)
    return received


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
        mail_from="surveys@acme.example",
        sms_base_url=provider.url,
        sms_account_sid="AC" + "1" * 32,
        sms_auth_token="test-token",
        sms_from="+15005550006",
    )


@pytest.fixture
def sender(pool: asyncpg.Pool, send_settings: Settings) -> InvitationSender:
    return InvitationSender(
        pool,
        settings=send_settings,
        email=SmtpSender(send_settings, timeout=5),
        sms=SmsClient(send_settings, timeout=5),
        brand_name="Acme",
    )


@pytest.fixture
def worker(pool: asyncpg.Pool, sender: InvitationSender) -> OutboxWorker:
    return OutboxWorker(pool, {TOPIC: sender}, name="test-worker")


async def invite(client: Client, crm: dict[str, str], *, preference: str = "email", **customer: Any) -> str:
    """A customer and an interaction through the API; returns the invitation id."""
    body = {
        "external_id": f"c-{uuid.uuid4().hex[:8]}",
        "name": "Ana",
        "email": "ana@example.com",
        "phone": "+4915112345678",
        "time_zone": "Europe/Berlin",
        **customer,
    }
    created = await client.post("/v1/customers", json=body, headers=crm)
    assert created.status_code == 201, created.text
    interaction = {
        "customer_id": created.json()["id"],
        "touchpoint": "relationship",  # nps, no delay
        "occurred_at": datetime.now(UTC).isoformat(),
        "channel_preference": preference,
    }
    recorded = await client.post("/v1/interactions", json=interaction, headers=crm)
    assert recorded.status_code == 201, recorded.text
    invitation = recorded.json()["invitation"]
    assert invitation["status"] in ("queued", "scheduled")
    assert invitation["channel"] == preference
    return invitation["id"]


async def make_due(conn: asyncpg.Connection) -> None:
    """Let time pass: scheduled sends (SMS quiet hours) and retries become due now."""
    await conn.execute("UPDATE outbox SET run_after = now() WHERE status = 'pending'")


async def invitation(conn: asyncpg.Connection, invitation_id: str) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT status, reason, sent_at, token_hash FROM invitations WHERE id = $1", uuid.UUID(invitation_id)
    )
    assert row is not None
    return row


async def job(conn: asyncpg.Connection) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT status, attempts, run_after, last_error FROM outbox WHERE topic = 'invitation.send'"
    )
    assert row is not None
    return row


def plain_text(message: Any) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


async def test_email_invitation_arrives_with_working_score_links(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection, worker: OutboxWorker, inbox: Inbox
) -> None:
    invitation_id = await invite(client, crm)
    assert await worker.run_once() == 1
    [mail] = inbox.received
    assert mail.rcpt_tos == ["ana@example.com"]
    assert mail.mail_from == "surveys@acme.example"
    assert mail.message["Message-ID"] == f"<survey-{invitation_id}@acme.example>"
    assert mail.message["Subject"] == "How likely are you to recommend Acme?"
    text = plain_text(mail.message)
    assert text.startswith("Hello Ana,")
    links = LINK.findall(text)
    assert [int(score) for _, score in links] == list(range(11))  # nps: 0 to 10
    tokens = {token for token, _ in links}
    assert len(tokens) == 1
    [token] = tokens
    row = await invitation(conn, invitation_id)
    assert hashlib.sha256(token.encode()).digest() == row["token_hash"]
    assert mail.message["List-Unsubscribe"] == f"<{BASE_URL}/u/{token}>"
    assert row["status"] == "sent"
    assert row["sent_at"] is not None
    assert (await job(conn))["status"] == "done"


async def test_email_speaks_the_customers_language(
    client: Client, crm: dict[str, str], worker: OutboxWorker, inbox: Inbox
) -> None:
    await invite(client, crm, locale="de")
    await worker.run_once()
    [mail] = inbox.received
    assert mail.message["Subject"] == "Wie wahrscheinlich empfehlen Sie Acme weiter?"
    assert plain_text(mail.message).startswith("Hallo Ana,")


async def test_a_repeated_job_does_not_send_again(
    client: Client, crm: dict[str, str], worker: OutboxWorker, sender: InvitationSender, inbox: Inbox
) -> None:
    invitation_id = await invite(client, crm)
    await worker.run_once()
    await sender(Job(id=0, topic=TOPIC, payload={"invitation_id": invitation_id}, attempts=2))
    assert len(inbox.received) == 1


async def test_sms_invitation_goes_to_the_provider_and_opens_a_conversation(
    client: Client,
    crm: dict[str, str],
    conn: asyncpg.Connection,
    worker: OutboxWorker,
    provider: FakeProvider,
) -> None:
    invitation_id = await invite(client, crm, preference="sms")
    await make_due(conn)  # it may fall in Berlin's quiet hours
    assert await worker.run_once() == 1
    [request] = provider.requests
    assert request.headers[IDEMPOTENCY_HEADER] == invitation_id
    assert request.form["To"] == "+4915112345678"
    assert request.form["Body"].startswith("Acme: How likely are you to recommend us")
    assert "Reply 0-10" in request.form["Body"]
    conversation = await conn.fetchrow("SELECT * FROM sms_conversations")
    assert conversation["phone"] == "+4915112345678"
    assert str(conversation["invitation_id"]) == invitation_id
    assert (conversation["state"], conversation["reprompted"]) == ("awaiting_score", False)
    assert (await invitation(conn, invitation_id))["status"] == "sent"


async def test_a_new_sms_invitation_takes_over_the_phones_conversation(
    client: Client,
    crm: dict[str, str],
    conn: asyncpg.Connection,
    worker: OutboxWorker,
    provider: FakeProvider,
) -> None:
    first = await invite(client, crm, preference="sms")
    await make_due(conn)
    await worker.run_once()
    await conn.execute("UPDATE sms_conversations SET state = 'closed', reprompted = true")
    # a second customer sharing the phone (cooldown is per customer)
    second = await invite(client, crm, preference="sms", email=None)
    await make_due(conn)
    await worker.run_once()
    conversation = await conn.fetchrow("SELECT * FROM sms_conversations")
    assert first != second
    assert str(conversation["invitation_id"]) == second
    assert (conversation["state"], conversation["reprompted"]) == ("awaiting_score", False)


async def test_smtp_down_retries_later_and_delivers_once_when_back(
    client: Client,
    crm: dict[str, str],
    conn: asyncpg.Connection,
    worker: OutboxWorker,
    start_smtp: Callable[..., int],
    smtp_socket: socket.socket,
) -> None:
    invitation_id = await invite(client, crm)
    assert await worker.run_once() == 1  # nothing listens on smtp_port yet
    retried = await job(conn)
    assert retried["status"] == "pending"
    assert retried["attempts"] == 1
    assert retried["run_after"] > await conn.fetchval("SELECT now()")
    assert "Could not talk to SMTP server" in retried["last_error"]
    assert (await invitation(conn, invitation_id))["status"] == "queued"
    assert await worker.run_once() == 0  # not before its backoff

    inbox = Inbox()
    start_smtp(inbox, smtp_socket)
    await make_due(conn)
    assert await worker.run_once() == 1
    await make_due(conn)
    assert await worker.run_once() == 0
    assert len(inbox.received) == 1
    assert (await invitation(conn, invitation_id))["status"] == "sent"
    assert ((await job(conn))["status"], (await job(conn))["attempts"]) == ("done", 2)


async def test_opted_out_after_scheduling_is_not_sent(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection, worker: OutboxWorker, inbox: Inbox
) -> None:
    invitation_id = await invite(client, crm)
    await conn.execute(
        "INSERT INTO suppressions (channel, address, reason) "
        "VALUES ('email', 'ana@example.com', 'unsubscribe')"
    )
    assert await worker.run_once() == 1
    assert inbox.received == []
    row = await invitation(conn, invitation_id)
    assert (row["status"], row["reason"]) == ("suppressed", "suppressed at send: opted out of email")
    assert (await job(conn))["status"] == "done"


async def test_a_refused_recipient_fails_the_invitation_and_buries_the_job(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection, worker: OutboxWorker, inbox: Inbox
) -> None:
    inbox.refuse["ana@example.com"] = "550 5.1.1 No such user"
    invitation_id = await invite(client, crm)
    assert await worker.run_once() == 1
    assert inbox.received == []
    row = await invitation(conn, invitation_id)
    assert row["status"] == "failed"
    assert row["reason"].startswith("failed: SMTP server 127.0.0.1:")
    assert "550" in row["reason"]
    dead = await job(conn)
    assert (dead["status"], dead["attempts"]) == ("dead", 1)


def worker_with(pool: asyncpg.Pool, settings: Settings) -> OutboxWorker:
    """A worker as a process started with these settings would build it."""
    sender = InvitationSender(
        pool,
        settings=settings,
        email=SmtpSender(settings, timeout=5),
        sms=SmsClient(settings, timeout=5),
        brand_name="Acme",
    )
    return OutboxWorker(pool, {TOPIC: sender}, name=f"worker-{uuid.uuid4().hex[:6]}")


async def send_jobs(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT status, payload, attempts, run_after > now() AS later, last_error "
        "FROM outbox WHERE topic = 'invitation.send' ORDER BY id"
    )


async def test_unconfigured_smtp_waits_past_the_workers_attempts_until_an_operator_sets_it(
    client: Client,
    crm: dict[str, str],
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    send_settings: Settings,
    worker: OutboxWorker,
    inbox: Inbox,
) -> None:
    unconfigured = worker_with(pool, msgspec.structs.replace(send_settings, smtp_host=None))
    invitation_id = await invite(client, crm)

    assert await unconfigured.run_once() == 1
    row = await invitation(conn, invitation_id)
    assert row["status"] == "queued"
    assert row["reason"] == "queued: waiting for settings: SMTP is not configured: set FEEDBACK_SMTP_HOST"
    first, waiting = await send_jobs(conn)
    assert first["status"] == "done"
    assert (waiting["status"], waiting["later"], waiting["payload"]["waits"]) == ("pending", True, 1)
    assert await unconfigured.run_once() == 0  # not before its pause

    # far more tries than the worker's max_attempts: the invitation keeps waiting, nothing is buried
    tries = unconfigured.max_attempts + 2
    for _ in range(tries):
        await make_due(conn)
        assert await unconfigured.run_once() == 1
    jobs = await send_jobs(conn)
    assert [job["status"] for job in jobs] == ["done"] * (tries + 1) + ["pending"]
    assert jobs[-1]["payload"]["waits"] == tries + 1
    assert (await invitation(conn, invitation_id))["status"] == "queued"
    assert inbox.received == []

    # the operator sets FEEDBACK_SMTP_HOST and restarts: the survey goes out, once
    await make_due(conn)
    assert await worker.run_once() == 1
    await make_due(conn)
    assert await worker.run_once() == 0
    assert [mail.rcpt_tos for mail in inbox.received] == [["ana@example.com"]]
    row = await invitation(conn, invitation_id)
    assert (row["status"], row["reason"]) == ("sent", "sent by email")  # no longer "waiting for settings"


async def test_a_refused_login_waits_and_delivers_once_the_password_is_fixed(
    client: Client,
    crm: dict[str, str],
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    send_settings: Settings,
    start_smtp: Callable[..., int],
) -> None:
    relay = Inbox()
    # no TLS on loopback in this test; the login itself is what is refused
    port = start_smtp(
        relay, auth_required=True, auth_require_tls=False, authenticator=Passwords("mailer", "s3cret")
    )
    relay_settings = msgspec.structs.replace(
        send_settings, smtp_port=port, smtp_username="mailer", smtp_password="wrong"
    )
    invitation_id = await invite(client, crm)

    assert await worker_with(pool, relay_settings).run_once() == 1
    row = await invitation(conn, invitation_id)
    assert row["status"] == "queued"
    assert "rejected the login as 'mailer': 535" in row["reason"]
    assert "FEEDBACK_SMTP_PASSWORD" in row["reason"]
    assert "wrong" not in row["reason"]
    assert [job["status"] for job in await send_jobs(conn)] == ["done", "pending"]
    assert relay.received == []

    fixed = worker_with(pool, msgspec.structs.replace(relay_settings, smtp_password="s3cret"))
    await make_due(conn)
    assert await fixed.run_once() == 1
    assert [mail.rcpt_tos for mail in relay.received] == [["ana@example.com"]]
    assert (await invitation(conn, invitation_id))["status"] == "sent"


async def test_a_wait_that_would_outlast_the_link_fails_the_invitation(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection, pool: asyncpg.Pool, send_settings: Settings
) -> None:
    invitation_id = await invite(client, crm)
    # the next try (5 s or more away) would come after the link stopped working
    await conn.execute("UPDATE invitations SET expires_at = now() + interval '2 seconds'")

    assert await worker_with(pool, msgspec.structs.replace(send_settings, smtp_host=None)).run_once() == 1

    row = await invitation(conn, invitation_id)
    assert row["status"] == "failed"
    assert row["reason"] == (
        "failed: settings not fixed before the survey link expired: "
        "SMTP is not configured: set FEEDBACK_SMTP_HOST"
    )
    [dead] = await send_jobs(conn)
    assert dead["status"] == "dead"
    assert "gave up waiting for settings" in dead["last_error"]


async def test_an_invitation_whose_link_expired_is_not_sent(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection, worker: OutboxWorker, inbox: Inbox
) -> None:
    invitation_id = await invite(client, crm)
    await conn.execute("UPDATE invitations SET expires_at = now() - interval '1 second'")

    assert await worker.run_once() == 1

    assert inbox.received == []
    row = await invitation(conn, invitation_id)
    assert (row["status"], row["reason"]) == ("expired", "expired before it could be sent")
    assert (await job(conn))["status"] == "done"


async def test_refused_sms_credentials_wait_and_send_once_the_token_is_fixed(
    client: Client,
    crm: dict[str, str],
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    send_settings: Settings,
    worker: OutboxWorker,
    provider: FakeProvider,
) -> None:
    invitation_id = await invite(client, crm, preference="sms")
    await make_due(conn)
    provider.answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
    assert await worker.run_once() == 1
    row = await invitation(conn, invitation_id)
    assert row["status"] == "queued"
    assert row["reason"].startswith(
        "queued: waiting for settings: SMS provider refused our credentials (401)"
    )

    # the operator fixes the token: the provider answers the next request with a sid
    await conn.execute("UPDATE outbox SET run_after = now() WHERE status = 'pending'")
    assert await worker.run_once() == 1
    assert (await invitation(conn, invitation_id))["status"] == "sent"
    assert len(provider.requests) == 2  # the refused try and the one that went through


async def test_an_invitation_goes_out_with_the_survey_version_it_was_made_with(
    client: Client,
    crm: dict[str, str],
    make_key: KeyFactory,
    worker: OutboxWorker,
    inbox: Inbox,
    provider: FakeProvider,
    conn: asyncpg.Connection,
) -> None:
    admin = await make_key("admin", name="ops")
    made_before = await invite(client, crm)
    texts = {
        "en": {
            "subject": "{brand} wants to know",
            "question": "Would you recommend {brand} after your {touchpoint}?",
            "sms": "{brand}: Would you recommend us? Reply 0-10, or STOP to opt out.",
        }
    }
    reworded = await client.patch("/v1/surveys/nps", json={"texts": texts}, headers=admin)
    assert reworded.json()["version"] == 2, reworded.text
    made_after = await invite(client, crm, external_id="after")
    by_sms = await invite(client, crm, preference="sms", external_id="after-sms")
    await make_due(conn)  # the SMS may fall in Berlin's quiet hours
    assert await worker.run_once() == 3
    subjects = {mail.message["Message-ID"]: mail.message["Subject"] for mail in inbox.received}
    assert subjects == {
        f"<survey-{made_before}@acme.example>": "How likely are you to recommend Acme?",
        f"<survey-{made_after}@acme.example>": "Acme wants to know",
    }
    [after] = [m for m in inbox.received if m.message["Subject"] == "Acme wants to know"]
    # {touchpoint} for the shipped `relationship` touchpoint reads as the catalog names it
    assert "Would you recommend Acme after your time with us?" in plain_text(after.message)
    [sms] = provider.requests
    assert sms.form["Body"] == "Acme: Would you recommend us? Reply 0-10, or STOP to opt out."
    versions = await conn.fetch("SELECT id::text, survey_version FROM invitations")
    assert dict(versions) == {made_before: 1, made_after: 2, by_sms: 2}


async def test_an_invitation_of_a_survey_retired_before_it_went_is_not_sent(
    client: Client,
    crm: dict[str, str],
    make_key: KeyFactory,
    conn: asyncpg.Connection,
    worker: OutboxWorker,
    inbox: Inbox,
) -> None:
    admin = await make_key("admin", name="ops")
    invitation_id = await invite(client, crm)
    # the relationship touchpoint sends nps: it has to send something else before nps can retire
    rule = {"name": "Relationship survey", "survey": "csat"}
    assert (await client.put("/v1/touchpoints/relationship", json=rule, headers=admin)).status_code == 200
    assert (await client.post("/v1/surveys/nps/retire", headers=admin)).status_code == 200
    await worker.run_once()
    assert inbox.received == []
    row = await invitation(conn, invitation_id)
    assert (row["status"], row["reason"]) == ("suppressed", "suppressed at send: survey nps retired")
