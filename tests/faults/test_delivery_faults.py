"""Delivery outages end to end: relay, SMS provider and CRM down for hours; a worker killed mid-send.

Hours cannot pass in a test, so where a story waits, the stored next-attempt times are moved
to now() in SQL: that stands in for the wait and nothing else (the backoff that would have
been waited out is read from the same rows first). Everything else is real: aiosmtpd, HTTP
servers on loopback, the outbox worker and webhook runner, and `feedback-svc worker`
processes killed with SIGKILL.
"""

import asyncio
import re
import signal
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import asyncpg
import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from standardwebhooks import Webhook

from feedback_svc.delivery.email.render import make_message_id
from feedback_svc.delivery.email.smtp import SmtpSender
from feedback_svc.delivery.sms.client import SmsClient
from feedback_svc.outbox.worker import BACKOFF_BASE, BACKOFF_CAP, OutboxWorker
from feedback_svc.settings import Settings
from feedback_svc.surveys.sending import TOPIC, InvitationSender
from feedback_svc.surveys.tokens import hash_token
from feedback_svc.webhooks.delivery import JITTER, RETRY_SCHEDULE, WebhookDeliverer
from tests.conftest import KeyFactory
from tests.faults.delivery_fakes import (
    WAIT,
    CrmReceiver,
    Relay,
    SmsProvider,
    SmsRequest,
    Tripwire,
    crm_endpoint,
    sms_api,
    smtp_relay,
)
from tests.faults.processes import Child, Children
from tests.integration.webhooks.conftest import emit, fan_out, register
from tests.listening import HeldPorts, port_of
from tests.waiting import eventually as poll

Client = AsyncTestClient[Litestar]
BASE_URL = "https://feedback.acme.example"
MAIL_FROM = "surveys@acme.example"
SMS_ACCOUNT = "AC" + "1" * 32
TOKEN_IN_LINK = re.compile(re.escape(BASE_URL) + r"/s/([A-Za-z0-9_-]{32})")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # the CRM receiver listens on 127.0.0.1
    return msgspec.structs.replace(settings, public_base_url=BASE_URL, webhooks_allow_private=True)


# --- our side ----------------------------------------------------------------------------------


def delivery_settings(settings: Settings, *, smtp_port: int, sms_port: int) -> Settings:
    return msgspec.structs.replace(
        settings,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_security="none",
        mail_from=MAIL_FROM,
        sms_base_url=f"http://127.0.0.1:{sms_port}",
        sms_account_sid=SMS_ACCOUNT,
        sms_auth_token="test-token",
        sms_from="+15005550006",
    )


def worker_env(settings: Settings) -> dict[str, str]:
    """The same channels and secret for a `feedback-svc worker` process as the test uses."""
    assert settings.secret_key is not None
    return {
        # the links in the messages must match the token hashes the API stored
        "FEEDBACK_SECRET_KEY": settings.secret_key,
        "FEEDBACK_PUBLIC_BASE_URL": BASE_URL,
        "FEEDBACK_SMTP_HOST": "127.0.0.1",
        "FEEDBACK_SMTP_PORT": str(settings.smtp_port),
        "FEEDBACK_SMTP_SECURITY": "none",
        "FEEDBACK_MAIL_FROM": MAIL_FROM,
        "FEEDBACK_SMS_BASE_URL": settings.sms_base_url,
        "FEEDBACK_SMS_ACCOUNT_SID": SMS_ACCOUNT,
        "FEEDBACK_SMS_AUTH_TOKEN": "test-token",
        "FEEDBACK_SMS_FROM": "+15005550006",
        "FEEDBACK_LOG_LEVEL": "INFO",
    }


def invitation_worker(pool: asyncpg.Pool, settings: Settings) -> OutboxWorker:
    sender = InvitationSender(
        pool,
        settings=settings,
        email=SmtpSender(settings, timeout=5),
        sms=SmsClient(settings, timeout=5),
        brand_name="Acme",
    )
    return OutboxWorker(pool, {TOPIC: sender}, name="in-process-worker", batch_size=25)


async def invite(client: Client, crm: dict[str, str], n: int, *, channel: str) -> uuid.UUID:
    """Customer number `n` and an interaction through the API; the invitation's id."""
    customer = {
        "external_id": f"outage-{n}",
        "name": f"Customer {n}",
        "email": f"customer{n}@example.com",
        "phone": f"+49151{n:08d}",
        "time_zone": "Europe/Berlin",
    }
    created = await client.post("/v1/customers", json=customer, headers=crm)
    assert created.status_code == 201, created.text
    interaction = {
        "customer_id": created.json()["id"],
        "touchpoint": "relationship",  # an NPS survey, sent without delay
        "occurred_at": datetime.now(UTC).isoformat(),
        "channel_preference": channel,
    }
    recorded = await client.post("/v1/interactions", json=interaction, headers=crm)
    assert recorded.status_code == 201, recorded.text
    invitation = recorded.json()["invitation"]
    assert (invitation["status"], invitation["channel"]) in (("queued", channel), ("scheduled", channel))
    return uuid.UUID(invitation["id"])


async def make_sends_due(conn: asyncpg.Connection) -> None:
    # stands in for waiting out each pending send's backoff (and SMS quiet hours)
    await conn.execute("UPDATE outbox SET run_after = now() WHERE topic = $1 AND status = 'pending'", TOPIC)


async def drain(worker: OutboxWorker) -> int:
    """Run the worker until nothing is due; the jobs claimed."""
    total = 0
    for _ in range(20):
        claimed = await worker.run_once()
        if claimed == 0:
            return total
        total += claimed
    raise AssertionError("the worker kept finding due work")


async def pending_sends(conn: asyncpg.Connection) -> dict[uuid.UUID, timedelta]:
    """invitation id -> how long until its next try; fails if one has two sends pending."""
    rows = await conn.fetch(
        "SELECT payload->>'invitation_id' AS invitation, run_after - now() AS wait "
        "FROM outbox WHERE topic = $1 AND status = 'pending'",
        TOPIC,
    )
    waits = {uuid.UUID(row["invitation"]): row["wait"] for row in rows}
    assert len(waits) == len(rows), "an invitation has two sends pending"
    return waits


async def statuses(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> Counter[str]:
    rows = await conn.fetch("SELECT status FROM invitations WHERE id = ANY($1::uuid[])", ids)
    return Counter(row["status"] for row in rows)


async def dead_jobs(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch("SELECT last_error FROM outbox WHERE status = 'dead'")
    return [row["last_error"] for row in rows]


def nominal_backoff(tries: int) -> timedelta:
    """The outbox's pause after failed try `tries`, before jitter puts it in its upper half."""
    return min(BACKOFF_BASE * 2 ** (tries - 1), BACKOFF_CAP)


def assert_backing_off(waits: dict[uuid.UUID, timedelta], tries: int) -> None:
    nominal = nominal_backoff(tries)
    # a second of slack: the row was written a moment before it is read
    low, high = nominal / 2 - timedelta(seconds=1), nominal
    outside = {str(i): str(wait) for i, wait in waits.items() if not low <= wait <= high}
    assert not outside, f"after {tries} tries each wait should be in [{low}, {high}]: {outside}"


async def eventually(check: Callable[[], Awaitable[bool]], *, what: str, children: Children) -> None:
    """Poll `check` until it holds; fail with the workers' logs after WAIT seconds."""
    try:
        await poll(check, what=what, timeout=WAIT, interval=0.2)
    except AssertionError as timed_out:
        raise AssertionError(f"{timed_out}\n{children.logs()}") from None


async def wait_for_kill(child: Child, tripwire: Tripwire, children: Children) -> None:
    fired = await asyncio.to_thread(tripwire.fired.wait, WAIT)
    assert fired, f"the worker never reached the far side\n{children.logs()}"
    returncode = await asyncio.to_thread(child.process.wait, WAIT)
    assert returncode == -signal.SIGKILL


async def end_lease(conn: asyncpg.Connection) -> None:
    # stands in for waiting out the dead worker's lease (OutboxWorker.lease, 5 minutes, no setting)
    held = await conn.execute(
        "UPDATE outbox SET locked_until = now() - interval '1 second' "
        "WHERE topic = $1 AND status = 'pending' AND locked_until > now()",
        TOPIC,
    )
    assert held == "UPDATE 1", "the killed worker should have left the job leased"


# --- SMTP and SMS down for hours ---------------------------------------------------------------


async def test_smtp_down_for_hours_then_every_invitation_arrives_once(
    client: Client,
    crm: dict[str, str],
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    settings: Settings,
    held_ports: HeldPorts,
) -> None:
    smtp_socket = held_ports.hold()  # nothing listens here yet
    send = delivery_settings(settings, smtp_port=port_of(smtp_socket), sms_port=held_ports.refusing())
    worker = invitation_worker(pool, send)
    ids = [await invite(client, crm, n, channel="email") for n in range(20)]
    relay = Relay(busy=True)

    # 12 tries, about four hours of backoff: first nobody answers on the port, then the relay
    # is up but answers "451 queue full" to every message
    outage = 12
    elapsed = dict.fromkeys(ids, timedelta(0))
    with ExitStack() as servers:
        for tries in range(1, outage + 1):
            if tries == 7:
                servers.enter_context(smtp_relay(relay, smtp_socket))
            await make_sends_due(conn)
            assert await drain(worker) == len(ids)
            if tries == 1:
                assert await drain(worker) == 0, "retried before its backoff"
            waits = await pending_sends(conn)
            assert waits.keys() == set(ids), "every invitation keeps exactly one send pending"
            assert_backing_off(waits, tries)
            for invitation_id, wait in waits.items():
                elapsed[invitation_id] += wait
            assert await dead_jobs(conn) == []
            assert await statuses(conn, ids) == {"queued": len(ids)}
        assert relay.received == []
        assert min(elapsed.values()) > timedelta(hours=2)
        reasons = await conn.fetch("SELECT reason FROM invitations WHERE id = ANY($1::uuid[])", ids)
        assert all("451 4.3.0" in (row["reason"] or "") for row in reasons), reasons

        relay.busy = False  # the relay is back
        await make_sends_due(conn)
        assert await drain(worker) == len(ids)
        await make_sends_due(conn)
        assert await drain(worker) == 0

    assert relay.message_ids() == Counter({make_message_id(i, mail_from=MAIL_FROM): 1 for i in ids})
    assert await statuses(conn, ids) == {"sent": len(ids)}
    assert await pending_sends(conn) == {}
    assert await dead_jobs(conn) == []


async def test_sms_provider_down_for_hours_then_every_message_goes_out_once(
    client: Client,
    crm: dict[str, str],
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    settings: Settings,
    held_ports: HeldPorts,
) -> None:
    sms_socket = held_ports.hold()  # nothing listens here yet
    send = delivery_settings(settings, smtp_port=held_ports.refusing(), sms_port=port_of(sms_socket))
    worker = invitation_worker(pool, send)
    ids = [await invite(client, crm, n, channel="sms") for n in range(8)]
    provider = SmsProvider(down=True)

    # 12 tries over about four hours: connections refused, then the API up but answering 503
    outage = 12
    with ExitStack() as servers:
        for tries in range(1, outage + 1):
            if tries == 4:
                servers.enter_context(sms_api(provider, sms_socket))
            await make_sends_due(conn)
            assert await drain(worker) == len(ids)
            waits = await pending_sends(conn)
            assert waits.keys() == set(ids), "every invitation keeps exactly one send pending"
            assert_backing_off(waits, tries)
            assert await dead_jobs(conn) == []
            assert await statuses(conn, ids) == {"queued": len(ids)}
        assert provider.delivered == {}

        provider.down = False
        await make_sends_due(conn)
        assert await drain(worker) == len(ids)
        await make_sends_due(conn)
        assert await drain(worker) == 0

    tokens = {str(i) for i in ids}  # the idempotency key of a message is its invitation's id
    assert provider.delivered.keys() == tokens
    by_token: dict[str, list[SmsRequest]] = {}
    for request in provider.requests:
        by_token.setdefault(request.token, []).append(request)
    assert by_token.keys() == tokens
    for requests in by_token.values():
        # every try that reached the provider (tries 4 to 12, then the one that went through)
        assert [r.status for r in requests] == [503] * (outage - 3) + [201]
        assert len({(r.to, r.body) for r in requests}) == 1, "a retry sends the same message"
    assert await statuses(conn, ids) == {"sent": len(ids)}
    assert await conn.fetchval("SELECT count(*) FROM sms_conversations") == len(ids)
    assert await dead_jobs(conn) == []


async def test_an_outage_that_outlasts_the_survey_link_fails_the_invitation_for_all_to_see(
    client: Client,
    crm: dict[str, str],
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    settings: Settings,
    held_ports: HeldPorts,
) -> None:
    # nobody listens on either
    send = delivery_settings(settings, smtp_port=held_ports.refusing(), sms_port=held_ports.refusing())
    worker = invitation_worker(pool, send)
    invitation_id = await invite(client, crm, 0, channel="email")
    for _ in range(4):  # the worker's own quick retries
        await make_sends_due(conn)
        assert await drain(worker) == 1
    # the next pause (80 s or more) would end after the link stops working
    await conn.execute("UPDATE invitations SET expires_at = now() + interval '1 minute'")
    await make_sends_due(conn)
    assert await drain(worker) == 1

    row = await conn.fetchrow("SELECT status, reason FROM invitations WHERE id = $1", invitation_id)
    assert row["status"] == "failed"
    assert row["reason"].startswith("failed: not delivered before the survey link expired: ")
    assert "Could not talk to SMTP server" in row["reason"]
    assert await pending_sends(conn) == {}
    assert len(await dead_jobs(conn)) == 1


# --- a worker killed between the send and its commit -------------------------------------------


async def invitation_row(conn: asyncpg.Connection, invitation_id: uuid.UUID) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT i.status, i.sent_at, i.token_hash, c.phone "
        "FROM invitations i JOIN customers c ON c.id = i.customer_id WHERE i.id = $1",
        invitation_id,
    )
    assert row is not None
    return row


async def send_job(conn: asyncpg.Connection) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT status, attempts, locked_until > now() AS leased FROM outbox WHERE topic = $1", TOPIC
    )
    assert row is not None
    return row


def sent(conn: asyncpg.Connection, invitation_id: uuid.UUID) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return (await invitation_row(conn, invitation_id))["status"] == "sent"

    return check


def survey_tokens(message: EmailMessage) -> set[str]:
    body = message.get_body(preferencelist=("plain",))
    assert isinstance(body, EmailMessage)
    return set(TOKEN_IN_LINK.findall(body.get_content()))


async def test_a_worker_killed_after_the_relay_took_the_email_resends_the_same_message(
    client: Client,
    crm: dict[str, str],
    conn: asyncpg.Connection,
    settings: Settings,
    database_url: str,
    tmp_path: Path,
    held_ports: HeldPorts,
) -> None:
    smtp_socket = held_ports.hold()
    send = delivery_settings(settings, smtp_port=port_of(smtp_socket), sms_port=held_ports.refusing())
    invitation_id = await invite(client, crm, 0, channel="email")
    tripwire = Tripwire()
    relay = Relay(tripwire=tripwire)

    with smtp_relay(relay, smtp_socket), Children(tmp_path / "logs") as children:
        first = children.worker(database_url, env=worker_env(send))
        tripwire.arm(first.process.pid)
        # the relay has the message, and kills the worker before it answers 250
        await wait_for_kill(first, tripwire, children)
        assert len(relay.received) == 1
        assert (await invitation_row(conn, invitation_id))["status"] == "queued"
        job = await send_job(conn)
        assert (job["status"], job["attempts"], job["leased"]) == ("pending", 1, True)

        await end_lease(conn)
        second = children.worker(database_url, env=worker_env(send))
        await eventually(sent(conn, invitation_id), what="the second worker to send it", children=children)
        assert second.stop() == 0, children.logs()

    # at least once: the relay got it twice, as the same message, so it (or the mailbox) can
    # drop the copy; the customer sees one survey with one working link either way
    message_id = make_message_id(invitation_id, mail_from=MAIL_FROM)
    assert relay.message_ids() == Counter({message_id: 2})
    first_copy, second_copy = relay.received
    assert survey_tokens(first_copy) == survey_tokens(second_copy)
    [token] = survey_tokens(first_copy)
    row = await invitation_row(conn, invitation_id)
    assert row["token_hash"] == hash_token(token)
    assert row["sent_at"] is not None
    job = await send_job(conn)
    assert (job["status"], job["attempts"]) == ("done", 2)


async def test_a_worker_killed_after_the_provider_took_the_sms_sends_it_once(
    client: Client,
    crm: dict[str, str],
    conn: asyncpg.Connection,
    settings: Settings,
    database_url: str,
    tmp_path: Path,
    held_ports: HeldPorts,
) -> None:
    sms_socket = held_ports.hold()
    send = delivery_settings(settings, smtp_port=held_ports.refusing(), sms_port=port_of(sms_socket))
    invitation_id = await invite(client, crm, 0, channel="sms")
    await make_sends_due(conn)
    tripwire = Tripwire()
    provider = SmsProvider(tripwire=tripwire)

    with sms_api(provider, sms_socket), Children(tmp_path / "logs") as children:
        first = children.worker(database_url, env=worker_env(send))
        tripwire.arm(first.process.pid)
        # the provider took the message, and kills the worker before it answers 201
        await wait_for_kill(first, tripwire, children)
        assert len(provider.delivered) == 1
        assert (await invitation_row(conn, invitation_id))["status"] == "queued"

        await end_lease(conn)
        second = children.worker(database_url, env=worker_env(send))
        await eventually(sent(conn, invitation_id), what="the second worker to send it", children=children)
        assert second.stop() == 0, children.logs()

    # the retry carries the same idempotency token, so the provider sends nothing new
    first_try, retry = provider.requests
    assert first_try.token == retry.token == str(invitation_id)
    assert (first_try.to, first_try.body) == (retry.to, retry.body)
    assert list(provider.delivered) == [str(invitation_id)]
    row = await invitation_row(conn, invitation_id)
    assert first_try.to == row["phone"]
    conversations = await conn.fetch("SELECT phone, invitation_id FROM sms_conversations")
    assert [(c["phone"], c["invitation_id"]) for c in conversations] == [(row["phone"], invitation_id)]
    job = await send_job(conn)
    assert (job["status"], job["attempts"]) == ("done", 2)


# --- the CRM's webhook receiver down for a day ---------------------------------------------------


async def make_hooks_due(conn: asyncpg.Connection) -> None:
    # stands in for waiting out the backoff: the claim still keeps each customer's later
    # deliveries behind its first
    await conn.execute("UPDATE webhook_deliveries SET next_attempt_at = now() WHERE status = 'pending'")


async def assert_first_ones_backing_off(conn: asyncpg.Connection, heads: set[str], attempt: int) -> None:
    """Each customer's first delivery has had `attempt` tries and waits per the schedule; the rest none."""
    nominal = RETRY_SCHEDULE[attempt - 1]
    # from the claim to the retry's schedule: the pause, give or take its jitter, plus the
    # moment the refused or 503 request took
    low, high = nominal * (1 - JITTER), nominal * (1 + JITTER) + timedelta(seconds=5)
    for row in await conn.fetch("SELECT * FROM webhook_deliveries"):
        assert row["status"] == "pending", "none fails inside the retry budget"
        if row["message_id"] in heads:
            assert row["attempts"] == attempt
            waited = row["next_attempt_at"] - row["last_attempt_at"]
            assert low <= waited <= high, f"attempt {attempt} waits {waited}, not {nominal} +-{JITTER:.0%}"
        else:
            assert row["attempts"] == 0, "a later delivery went before the customer's first"


async def drain_hooks(runner: WebhookDeliverer, http: httpx.AsyncClient) -> int:
    total = 0
    for _ in range(20):
        claimed = await runner.run_once(http)
        if claimed == 0:
            return total
        total += claimed
    raise AssertionError("the runner kept finding due deliveries")


async def test_crm_receiver_down_for_a_day_then_every_event_arrives_once_in_order(
    client: Client, conn: asyncpg.Connection, pool: asyncpg.Pool, make_key: KeyFactory, held_ports: HeldPorts
) -> None:
    admin = await make_key("admin", name="admin")
    crm_socket = held_ports.hold()  # nothing listens here yet
    port = port_of(crm_socket)
    endpoint = await register(client, admin, f"http://127.0.0.1:{port}/hooks/crm")
    customers = [uuid.uuid4() for _ in range(3)]
    sent: dict[uuid.UUID, list[str]] = {customer: [] for customer in customers}
    for n in range(3):
        for customer in customers:
            sent[customer].append(f"msg_{await emit(conn, customer=customer, n=n)}")
    assert await fan_out(pool) == 9
    heads = {ids[0] for ids in sent.values()}
    receiver = CrmReceiver(status=503)
    runner = WebhookDeliverer(pool, allow_private=True, timeout=2.0, name="deliverer")

    # 7 attempts of 11, about 27 hours of backoff: refused connections, then 503s
    outage = 7
    async with runner.client() as http:
        with ExitStack() as servers:
            for attempt in range(1, outage + 1):
                if attempt == 4:
                    servers.enter_context(crm_endpoint(receiver, crm_socket))
                await make_hooks_due(conn)
                # each customer's first delivery is tried; the rest wait behind it
                assert await drain_hooks(runner, http) == len(customers)
                await assert_first_ones_backing_off(conn, heads, attempt)
                assert {hook.headers["webhook-id"] for hook in receiver.received} <= heads

            receiver.status = 204  # the CRM is back
            await make_hooks_due(conn)
            assert await drain_hooks(runner, http) == 9

    accepted = receiver.accepted()
    assert Counter(hook.headers["webhook-id"] for hook in accepted) == Counter(
        {message_id: 1 for ids in sent.values() for message_id in ids}
    )
    verifier = Webhook(endpoint["secret"])
    for customer in customers:
        arrived = [
            hook.headers["webhook-id"]
            for hook in accepted
            if verifier.verify(hook.body, hook.headers)["data"]["customer_id"] == str(customer)
        ]
        assert arrived == sent[customer], "in order per customer"
    rows = await conn.fetch("SELECT message_id, status, attempts FROM webhook_deliveries")
    assert {row["status"] for row in rows} == {"succeeded"}
    tries = {row["message_id"]: row["attempts"] for row in rows if row["message_id"] in heads}
    assert tries == dict.fromkeys(heads, outage + 1)
