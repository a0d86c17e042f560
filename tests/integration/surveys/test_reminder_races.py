"""Reminders racing answers: the answer always wins, and a reminder never goes out unnoticed
after one.

Three moments an answer can come: while the reminder is being decided (it waits for the
invitation's lock and then finds the answer: nothing is sent), while the reminder is on its way
to the relay (the answer is stored at once, nothing holds it up, and the reminder is recorded as
having crossed it), and at random among many reminders being sent by two workers at once.
"""

import asyncio
import random
import time
import uuid
from collections import Counter
from email.message import EmailMessage

import asyncpg
import pytest

from feedback_svc.db.pool import connect
from feedback_svc.delivery.email.smtp import SmtpSender
from feedback_svc.delivery.sms.client import SmsClient
from feedback_svc.outbox.worker import OutboxWorker
from feedback_svc.settings import Settings
from feedback_svc.surveys import queries, reminders, sending, service
from feedback_svc.surveys.reminding import ReminderSender
from feedback_svc.surveys.schemas import ResponseCreate
from feedback_svc.surveys.service import kinds_admitting
from tests.conftest import KeyFactory
from tests.integration.delivery.email.conftest import Inbox
from tests.integration.surveys.reminder_setup import (
    Client,
    drain,
    inbox,
    invite,
    make_reminders_due,
    provider,
    reminder_rows,
    send_settings,
    smtp_port,
    smtp_socket,
    worker,
)
from tests.waiting import eventually

__all__ = ["inbox", "provider", "send_settings", "smtp_port", "smtp_socket", "worker"]

WAIT = 10.0  # seconds any one step may take before the test calls it stuck


async def answer_as_the_api_does(pool: asyncpg.Pool, invitation_id: uuid.UUID, score: int) -> None:
    """POST /v1/responses's work, on a connection of its own. Not through the test client: it
    blocks this event loop until the app answers, and an answer waiting for a lock a reminder
    in this loop holds would then wait for ever instead of failing the test."""
    async with pool.acquire() as conn, conn.transaction():
        await service.record_api_response(conn, ResponseCreate(invitation_id=invitation_id, score=score))


class Relay:
    """The email sender in front of the real SMTP one: notes when each send starts, and can hold
    a send at the door until the test lets it through."""

    def __init__(self, inner: SmtpSender, *, hold: bool = False) -> None:
        self.inner = inner
        self.hold = hold
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.started: dict[str, float] = {}  # Message-ID -> monotonic time the send began

    async def send(self, message: EmailMessage) -> None:
        self.started[str(message["Message-ID"])] = time.monotonic()
        self.entered.set()
        if self.hold:
            await asyncio.wait_for(self.release.wait(), WAIT)
        await self.inner.send(message)


def reminder_worker(pool: asyncpg.Pool, settings: Settings, relay: Relay, name: str) -> OutboxWorker:
    sender = ReminderSender(
        pool, settings=settings, email=relay, sms=SmsClient(settings, timeout=5), brand_name="Acme"
    )
    return OutboxWorker(pool, {reminders.TOPIC: sender}, name=name, batch_size=5)


async def waiting_for_a_lock(conn: asyncpg.Connection) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT count(*) > 0 FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
    )


async def test_an_answer_holding_the_invitation_as_the_reminder_is_decided_wins(
    client: Client,
    crm: dict[str, str],
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    worker: OutboxWorker,
    send_settings: Settings,
    database_url: str,
    inbox: Inbox,
) -> None:
    invitation_id = await invite(client, crm)
    await drain(worker)
    await make_reminders_due(conn)
    relay = Relay(SmtpSender(send_settings, timeout=5))
    reminding = reminder_worker(pool, send_settings, relay, "reminding")

    answering = await connect(database_url)
    try:
        transaction = answering.transaction()
        await transaction.start()
        # the answer, as the API writes it, not yet committed: it holds the invitation's row
        stored = await queries.answer_invitation(
            answering,
            invitation_id=invitation_id,
            now=await answering.fetchval("SELECT now()"),
            score=9,
            kinds=kinds_admitting(9),
            comment=None,
            contact_requested=False,
            channel="api",
            answered_at=await answering.fetchval("SELECT now()"),
            event_topic="event",
        )
        assert stored is not None
        deciding = asyncio.create_task(reminding.run_once())
        await eventually(
            lambda: waiting_for_a_lock(conn), what="the reminder to wait for the answer's lock", timeout=WAIT
        )
        assert not deciding.done(), "the reminder waits for the answer's transaction"
        await transaction.commit()
    finally:
        await answering.close()
    assert await asyncio.wait_for(deciding, WAIT) == 1

    assert relay.started == {}, "nothing went to the relay"
    assert len(inbox.received) == 1, "the invitation only"
    [skipped] = await reminder_rows(conn, invitation_id)
    assert (skipped["status"], skipped["reason"]) == ("skipped", "skipped: invitation answered")
    assert await conn.fetchval("SELECT status FROM invitations WHERE id = $1", invitation_id) == "answered"
    assert await conn.fetchval("SELECT count(*) FROM responses") == 1


async def test_an_answer_while_the_reminder_is_on_its_way_is_stored_at_once_and_the_crossing_recorded(
    client: Client,
    crm: dict[str, str],
    make_key: KeyFactory,
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    worker: OutboxWorker,
    send_settings: Settings,
    inbox: Inbox,
) -> None:
    admin = await make_key("admin", name="admin")
    rule = {"name": "Relationship survey", "survey": "nps", "reminder_count": 2, "invite_delay_minutes": 0}
    assert (await client.put("/v1/touchpoints/relationship", json=rule, headers=admin)).status_code == 200
    invitation_id = await invite(client, crm)
    await drain(worker)
    await make_reminders_due(conn)
    relay = Relay(SmtpSender(send_settings, timeout=5), hold=True)
    reminding = reminder_worker(pool, send_settings, relay, "reminding")

    sending_task = asyncio.create_task(reminding.run_once())
    await asyncio.wait_for(relay.entered.wait(), WAIT)
    # the reminder is decided and at the relay's door; the customer answers now, and nothing
    # the reminder holds makes the answer wait
    await asyncio.wait_for(answer_as_the_api_does(pool, invitation_id, 4), 2.0)
    assert not sending_task.done()
    relay.release.set()
    assert await asyncio.wait_for(sending_task, WAIT) == 1

    assert len(inbox.received) == 2, "the invitation and the reminder that was already on its way"
    row = await conn.fetchrow("SELECT status, reminders_sent FROM invitations WHERE id = $1", invitation_id)
    assert (row["status"], row["reminders_sent"]) == ("answered", 1)
    [crossed] = await reminder_rows(conn, invitation_id)
    assert crossed["status"] == "sent"
    assert crossed["reason"] == "sent by email; the invitation was answered while it was on its way"
    # the rule allows a second reminder, but the answer stops it: none is planned
    assert await make_reminders_due(conn) == 0
    # and the answer counts as given before any reminder
    response = await conn.fetchrow("SELECT answered_at, score FROM responses")
    assert response["score"] == 4
    assert response["answered_at"] < crossed["sent_at"]
    rates = (await client.get("/v1/analytics/response-rates", headers=crm)).json()["overall"]
    assert (rates["answered"], rates["answered_before_reminder"], rates["reminded"]) == (1, 1, 1)
    assert rates["answered_after_reminder"] == 0


@pytest.mark.parametrize("seed", [1, 2])
async def test_many_answers_and_two_reminder_workers_at_once(
    seed: int,
    client: Client,
    crm: dict[str, str],
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    worker: OutboxWorker,
    send_settings: Settings,
    inbox: Inbox,
) -> None:
    rng = random.Random(seed)
    ids = [await invite(client, crm, email=f"customer{n}@example.com") for n in range(30)]
    assert await drain(worker) == len(ids)
    assert await make_reminders_due(conn) == len(ids)
    relay = Relay(SmtpSender(send_settings, timeout=5))
    workers = [reminder_worker(pool, send_settings, relay, f"reminding-{n}") for n in range(2)]
    answering = set(rng.sample(ids, 20))
    acknowledged: dict[uuid.UUID, float] = {}

    async def answer(invitation_id: uuid.UUID) -> None:
        # random jitter is the test's input (it interleaves answers with sends), not a wait
        await asyncio.sleep(rng.uniform(0, 0.3))
        await answer_as_the_api_does(pool, invitation_id, rng.randint(0, 10))
        acknowledged[invitation_id] = time.monotonic()

    async def work(reminding: OutboxWorker) -> None:
        while await reminding.run_once():
            await asyncio.sleep(rng.uniform(0, 0.02))  # jitter, the test's input like the answers'

    async with asyncio.timeout(60):
        await asyncio.gather(*(answer(i) for i in answering), *(work(w) for w in workers))

    # every answer stored, once
    answers = await conn.fetch("SELECT invitation_id FROM responses")
    assert Counter(row["invitation_id"] for row in answers) == Counter(answering)
    statuses = dict(await conn.fetch("SELECT id, status FROM invitations WHERE id = ANY($1::uuid[])", ids))
    assert {i for i, status in statuses.items() if status == "answered"} == answering

    # every reminder decided once, and sent at most once
    rows = {
        row["invitation_id"]: row
        for row in await conn.fetch(
            "SELECT * FROM invitation_reminders WHERE invitation_id = ANY($1::uuid[])", ids
        )
    }
    assert rows.keys() == set(ids)
    sent = {i for i, row in rows.items() if row["status"] == "sent"}
    skipped = {i for i, row in rows.items() if row["status"] == "skipped"}
    assert sent | skipped == set(ids)
    delivered = Counter(mail.message["Message-ID"] for mail in inbox.received[len(ids) :])
    assert delivered == Counter({f"<survey-{i}-r1@acme.example>": 1 for i in sent})
    # the answer wins: a reminder is skipped only for an answer, every unanswered one is sent
    assert skipped <= answering
    assert all(rows[i]["reason"] == "skipped: invitation answered" for i in skipped)
    assert set(ids) - answering <= sent
    # and a reminder that reached the relay after an answer was acknowledged says it crossed it
    for invitation_id in sent & answering:
        began = relay.started[f"<survey-{invitation_id}-r1@acme.example>"]
        if began > acknowledged[invitation_id]:
            assert rows[invitation_id]["reason"].endswith("answered while it was on its way")
    counts = dict(
        await conn.fetch("SELECT id, reminders_sent FROM invitations WHERE id = ANY($1::uuid[])", ids)
    )
    assert {i for i, n in counts.items() if n == 1} == sent
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE topic = $1 AND status <> 'done'", reminders.TOPIC
        )
        == 0
    )
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE topic = $1 AND status <> 'done'", sending.TOPIC
        )
        == 0
    )
