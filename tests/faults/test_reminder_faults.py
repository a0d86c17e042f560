"""Reminders through crashes: a `feedback-svc worker` SIGKILLed after the far side took the
reminder and before it could record it, and an answer that comes while no worker runs.

The invitation itself goes out through an in-process worker first; the reminder's three days are
stood in for by moving its job's run_after to now(), and the dead worker's lease by moving its
locked_until into the past (as in test_delivery_faults.py). Everything else is real: the relay
and SMS provider on loopback, worker processes, PostgreSQL.
"""

import uuid
from collections import Counter
from pathlib import Path

import asyncpg

from feedback_svc.delivery.email.render import make_message_id
from feedback_svc.settings import Settings
from feedback_svc.surveys import reminders
from tests.faults.delivery_fakes import Relay, SmsProvider, Tripwire, sms_api, smtp_relay
from tests.faults.processes import Children
from tests.faults.test_delivery_faults import (
    MAIL_FROM,
    Client,
    delivery_settings,
    drain,
    eventually,
    settings,
    wait_for_kill,
    worker_env,
)
from tests.integration.surveys.reminder_setup import (
    PHONE,
    invite,
    make_reminders_due,
    reminder_rows,
    worker_for,
)
from tests.listening import HeldPorts, port_of

__all__ = ["settings"]  # the fixture this module uses, as test_delivery_faults sets it up


async def reminder_job(conn: asyncpg.Connection) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT status, attempts, locked_until > now() AS leased FROM outbox WHERE topic = $1",
        reminders.TOPIC,
    )
    assert row is not None
    return row


async def end_reminder_lease(conn: asyncpg.Connection) -> None:
    # stands in for waiting out the dead worker's lease
    held = await conn.execute(
        "UPDATE outbox SET locked_until = now() - interval '1 second' "
        "WHERE topic = $1 AND status = 'pending' AND locked_until > now()",
        reminders.TOPIC,
    )
    assert held == "UPDATE 1", "the killed worker should have left the reminder's job leased"


def reminder_is(conn: asyncpg.Connection, invitation_id: uuid.UUID, status: str):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return [row["status"] for row in await reminder_rows(conn, invitation_id)] == [status]

    return check


async def test_a_worker_killed_after_the_provider_took_the_sms_reminder_sends_it_once(
    client: Client,
    crm: dict[str, str],
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    settings: Settings,
    database_url: str,
    tmp_path: Path,
    held_ports: HeldPorts,
) -> None:
    sms_socket = held_ports.hold()
    send = delivery_settings(settings, smtp_port=held_ports.refusing(), sms_port=port_of(sms_socket))
    invitation_id = await invite(client, crm, channel="sms")
    provider = SmsProvider()

    with sms_api(provider, sms_socket), Children(tmp_path / "logs") as children:
        assert await drain(worker_for(pool, send)) == 1  # the invitation goes out
        await make_reminders_due(conn)
        provider.tripwire = tripwire = Tripwire()
        first = children.worker(database_url, env=worker_env(send))
        tripwire.arm(first.process.pid)
        # the provider took the reminder, and kills the worker before it answers 201
        await wait_for_kill(first, tripwire, children)
        [in_hand] = await reminder_rows(conn, invitation_id)
        assert in_hand["status"] == "sending"
        job = await reminder_job(conn)
        assert (job["status"], job["attempts"], job["leased"]) == ("pending", 1, True)

        await end_reminder_lease(conn)
        second = children.worker(database_url, env=worker_env(send))
        await eventually(
            reminder_is(conn, invitation_id, "sent"), what="the reminder recorded", children=children
        )
        assert second.stop() == 0, children.logs()

    token = f"{invitation_id}:reminder:1"
    reminder_requests = [r for r in provider.requests if r.token == token]
    assert len(reminder_requests) == 2, "tried again after the crash..."
    assert len({(r.to, r.body) for r in reminder_requests}) == 1, "...as the same message"
    assert ", a reminder: How likely are you to recommend us" in reminder_requests[0].body
    assert list(provider.delivered) == [str(invitation_id), token], "and the provider sent it once"
    row = await conn.fetchrow("SELECT status, reminders_sent FROM invitations WHERE id = $1", invitation_id)
    assert (row["status"], row["reminders_sent"]) == ("sent", 1)
    conversations = await conn.fetch("SELECT phone, invitation_id FROM sms_conversations")
    assert [(c["phone"], c["invitation_id"]) for c in conversations] == [(PHONE, invitation_id)]
    job = await reminder_job(conn)
    assert (job["status"], job["attempts"]) == ("done", 2)


async def test_an_answer_while_the_crashed_reminder_waits_for_its_lease_wins(
    client: Client,
    crm: dict[str, str],
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    settings: Settings,
    database_url: str,
    tmp_path: Path,
    held_ports: HeldPorts,
) -> None:
    smtp_socket = held_ports.hold()
    send = delivery_settings(settings, smtp_port=port_of(smtp_socket), sms_port=held_ports.refusing())
    invitation_id = await invite(client, crm, channel="email")
    relay = Relay()

    with smtp_relay(relay, smtp_socket), Children(tmp_path / "logs") as children:
        in_process = worker_for(pool, send)
        assert await drain(in_process) == 1  # the invitation goes out...
        assert await drain(in_process) == 0  # ...and its reminder waits three days
        await make_reminders_due(conn)
        relay.tripwire = tripwire = Tripwire()
        first = children.worker(database_url, env=worker_env(send))
        tripwire.arm(first.process.pid)
        # the relay has the reminder, and kills the worker before it answers 250
        await wait_for_kill(first, tripwire, children)
        assert len(relay.received) == 2

        # nobody works the outbox for the rest of the lease; the customer answers meanwhile
        answered = await client.post(
            "/v1/responses", json={"invitation_id": str(invitation_id), "score": 10}, headers=crm
        )
        assert answered.status_code == 201, answered.text

        await end_reminder_lease(conn)
        second = children.worker(database_url, env=worker_env(send))
        await eventually(
            reminder_is(conn, invitation_id, "skipped"), what="the reminder decided", children=children
        )
        assert second.stop() == 0, children.logs()

    # the answer won: the reminder was not sent again, and its record says an earlier try may have
    # reached the customer (the relay has it: delivery is at least once, never twice)
    reminder_id = make_message_id(invitation_id, mail_from=MAIL_FROM, reminder=1)
    assert relay.message_ids() == Counter(
        {make_message_id(invitation_id, mail_from=MAIL_FROM): 1, reminder_id: 1}
    )
    [skipped] = await reminder_rows(conn, invitation_id)
    assert skipped["reason"] == "skipped: invitation answered (an earlier try may have reached the customer)"
    row = await conn.fetchrow("SELECT status, reminders_sent FROM invitations WHERE id = $1", invitation_id)
    assert (row["status"], row["reminders_sent"]) == ("answered", 0)
    assert await conn.fetchval("SELECT count(*) FROM responses") == 1
    job = await reminder_job(conn)
    assert (job["status"], job["attempts"]) == ("done", 2)
