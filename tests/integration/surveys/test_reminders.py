"""Reminders end to end: planned when the invitation goes, sent when due over real SMTP and a
loopback SMS provider, and skipped for every reason that should stop one."""

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import msgspec

from feedback_svc.outbox.queries import Job
from feedback_svc.outbox.worker import OutboxWorker
from feedback_svc.settings import Settings
from feedback_svc.surveys import reminders
from feedback_svc.surveys.reminding import REMINDER_TRIES
from feedback_svc.surveys.sms_inbound import process_inbound, store_inbound
from tests.conftest import KeyFactory
from tests.integration.delivery.email.conftest import Inbox
from tests.integration.delivery.sms.provider import FakeProvider
from tests.integration.surveys.reminder_setup import (
    BASE_URL,
    PHONE,
    Client,
    drain,
    inbox,
    invitation_row,
    invite,
    make_reminders_due,
    make_sends_due,
    night_zone,
    provider,
    reminder_jobs,
    reminder_rows,
    send_settings,
    senders,
    smtp_port,
    smtp_socket,
    worker,
    worker_for,
)
from tests.listening import held_port, port_of

# the fixtures this module uses, imported from reminder_setup
__all__ = ["inbox", "provider", "send_settings", "smtp_port", "smtp_socket", "worker"]

TOKEN = re.compile(re.escape(BASE_URL) + r"/s/([A-Za-z0-9_-]{32})")
THREE_DAYS = timedelta(hours=72)


def tokens(message: Any) -> set[str]:
    return set(TOKEN.findall(message.get_body(preferencelist=("plain",)).get_content()))


async def answer(client: Client, crm: dict[str, str], invitation_id: uuid.UUID, score: int = 9) -> None:
    answered = await client.post(
        "/v1/responses", json={"invitation_id": str(invitation_id), "score": score}, headers=crm
    )
    assert answered.status_code == 201, answered.text


async def set_rule(client: Client, admin: dict[str, str], touchpoint: str, **changes: Any) -> dict[str, Any]:
    current = {t["key"]: t for t in (await client.get("/v1/touchpoints", headers=admin)).json()}[touchpoint]
    body = {
        "name": current["name"],
        "survey": current["survey"],
        "critical": current["critical"],
        "invite_delay_minutes": current["invite_delay_minutes"],
        "reminder_count": current["reminder_count"],
        "reminder_delay_hours": current["reminder_delay_hours"],
        **changes,
    }
    updated = await client.put(f"/v1/touchpoints/{touchpoint}", json=body, headers=admin)
    assert updated.status_code == 200, updated.text
    return updated.json()


# -- the reminder, by email


async def test_an_unanswered_email_invitation_gets_one_reminder_three_days_later_on_the_same_link(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection, worker: OutboxWorker, inbox: Inbox
) -> None:
    invitation_id = await invite(client, crm)
    assert await drain(worker) == 1
    [invitation_mail] = inbox.received
    sent_at = (await invitation_row(conn, invitation_id))["sent_at"]

    # planned with the send, in its transaction: one row and one job, by (invitation, number)
    [planned] = await reminder_rows(conn, invitation_id)
    assert (planned["number"], planned["status"], planned["channel"]) == (1, "scheduled", "email")
    assert planned["due_at"] == sent_at + THREE_DAYS
    [job] = await reminder_jobs(conn)
    assert job["payload"] == {"invitation_id": str(invitation_id), "number": 1}
    assert job["dedupe_key"] == f"invitation.remind:{invitation_id}:1"
    assert job["run_after"] == planned["due_at"]
    assert await drain(worker) == 0, "not before its three days"

    assert await make_reminders_due(conn) == 1
    assert await drain(worker) == 1
    invitation_message, reminder_message = invitation_mail.message, inbox.received[1].message
    assert reminder_message["Subject"] == "Reminder: How likely are you to recommend Acme?"
    assert reminder_message["Message-ID"] == f"<survey-{invitation_id}-r1@acme.example>"
    assert reminder_message["In-Reply-To"] == invitation_message["Message-ID"]
    assert tokens(reminder_message) == tokens(invitation_message), "the same link"
    assert reminder_message["List-Unsubscribe"] == invitation_message["List-Unsubscribe"]

    row = await invitation_row(conn, invitation_id)
    assert (row["status"], row["reminders_sent"]) == ("sent", 1)
    [reminded] = await reminder_rows(conn, invitation_id)
    assert (reminded["status"], reminded["reason"]) == ("sent", "sent by email")
    assert reminded["sent_at"] == row["last_reminded_at"]
    # one reminder by default: nothing more is planned, nothing more arrives
    assert [j["status"] for j in await reminder_jobs(conn)] == ["done"]
    assert await make_reminders_due(conn) == 0
    assert await drain(worker) == 0
    assert len(inbox.received) == 2

    # the link still answers the survey, and the answer is the invitation's
    [token] = tokens(reminder_message)
    page = await client.post(f"/s/{token}", data={"score": "8", "comment": ""})
    assert page.status_code == 200, page.text
    assert (await invitation_row(conn, invitation_id))["status"] == "answered"


async def test_the_crm_reads_the_reminders_on_the_invitation(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection, worker: OutboxWorker, inbox: Inbox
) -> None:
    invitation_id = await invite(client, crm)
    await drain(worker)
    before = (await client.get(f"/v1/invitations/{invitation_id}", headers=crm)).json()
    [planned] = await reminder_rows(conn, invitation_id)
    assert (before["reminders_sent"], before["last_reminded_at"]) == (0, None)
    assert datetime.fromisoformat(before["next_reminder_at"]) == planned["due_at"]
    assert [r["status"] for r in before["reminders"]] == ["scheduled"]

    await make_reminders_due(conn)
    await drain(worker)
    after = (await client.get(f"/v1/invitations/{invitation_id}", headers=crm)).json()
    assert (after["status"], after["reminders_sent"], after["next_reminder_at"]) == ("sent", 1, None)
    [reminder] = after["reminders"]
    assert reminder["number"] == 1
    assert (reminder["status"], reminder["channel"], reminder["reason"]) == ("sent", "email", "sent by email")
    assert after["last_reminded_at"] == reminder["sent_at"]
    # a step of the invitation's history, after the send
    steps = [(step["event"], step["reason"]) for step in after["history"]]
    assert steps[-2:] == [("sent", "sent by email"), ("reminded", "reminder 1, sent by email")]
    assert after["history"][-1]["at"] == reminder["sent_at"]
    # and the same in the list
    listed = (await client.get(f"/v1/invitations?customer_id={after['customer_id']}", headers=crm)).json()
    assert listed["items"] == [after]

    assert (await client.get(f"/v1/invitations/{uuid.uuid4()}", headers=crm)).status_code == 404
    customer_id = after["customer_id"]
    assert (await client.delete(f"/v1/customers/{customer_id}", headers=crm)).status_code == 200
    assert (await client.get(f"/v1/invitations/{invitation_id}", headers=crm)).status_code == 410


async def test_an_answer_before_the_reminder_is_due_stops_it(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection, worker: OutboxWorker, inbox: Inbox
) -> None:
    invitation_id = await invite(client, crm)
    await drain(worker)
    await answer(client, crm, invitation_id)
    shown = (await client.get(f"/v1/invitations/{invitation_id}", headers=crm)).json()
    assert (shown["status"], shown["next_reminder_at"]) == ("answered", None)

    await make_reminders_due(conn)
    assert await drain(worker) == 1
    assert len(inbox.received) == 1, "the invitation only"
    [skipped] = await reminder_rows(conn, invitation_id)
    assert (skipped["status"], skipped["reason"]) == ("skipped", "skipped: invitation answered")
    assert (await invitation_row(conn, invitation_id))["reminders_sent"] == 0


async def test_a_repeated_reminder_job_sends_nothing_more(
    client: Client,
    crm: dict[str, str],
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    send_settings: Settings,
    worker: OutboxWorker,
    inbox: Inbox,
) -> None:
    invitation_id = await invite(client, crm)
    await drain(worker)
    invitation_sender, reminder_sender = senders(pool, send_settings)
    # the invitation's job again (a redelivery): no second reminder is planned
    await invitation_sender(
        Job(id=0, topic="invitation.send", payload={"invitation_id": str(invitation_id)}, attempts=2)
    )
    await make_reminders_due(conn)
    await drain(worker)
    job = Job(
        id=0, topic=reminders.TOPIC, payload={"invitation_id": str(invitation_id), "number": 1}, attempts=2
    )
    await reminder_sender(job)
    await reminder_sender(job)
    assert len(inbox.received) == 2
    assert len(await reminder_rows(conn, invitation_id)) == 1
    assert (await invitation_row(conn, invitation_id))["reminders_sent"] == 1


# -- the touchpoint's rule


async def test_a_touchpoint_with_reminders_off_gets_none(
    client: Client, crm: dict[str, str], make_key: KeyFactory, conn: asyncpg.Connection, worker: OutboxWorker
) -> None:
    admin = await make_key("admin", name="admin")
    rule = await set_rule(client, admin, "relationship", reminder_count=0)
    assert rule["reminders"] == {"count": 0, "delay_hours": 72.0}
    invitation_id = await invite(client, crm)
    await drain(worker)
    assert (await invitation_row(conn, invitation_id))["status"] == "sent"
    assert await reminder_rows(conn, invitation_id) == []
    assert await reminder_jobs(conn) == []


async def test_a_rule_turned_off_after_planning_stops_the_planned_reminder(
    client: Client,
    crm: dict[str, str],
    make_key: KeyFactory,
    conn: asyncpg.Connection,
    worker: OutboxWorker,
    inbox: Inbox,
) -> None:
    invitation_id = await invite(client, crm)
    await drain(worker)
    await set_rule(client, await make_key("admin", name="admin"), "relationship", reminder_count=0)
    await make_reminders_due(conn)
    await drain(worker)
    assert len(inbox.received) == 1
    [skipped] = await reminder_rows(conn, invitation_id)
    assert skipped["reason"] == "skipped: reminders are turned off for this touchpoint now"


async def test_a_survey_retired_after_the_invitation_went_gets_no_reminder(
    client: Client,
    crm: dict[str, str],
    make_key: KeyFactory,
    conn: asyncpg.Connection,
    worker: OutboxWorker,
    inbox: Inbox,
) -> None:
    invitation_id = await invite(client, crm)
    await drain(worker)
    admin = await make_key("admin", name="admin")
    # relationship keeps its reminders but sends another survey, so nps can be retired
    await set_rule(client, admin, "relationship", survey="csat")
    assert (await client.post("/v1/surveys/nps/retire", headers=admin)).status_code == 200
    await make_reminders_due(conn)
    await drain(worker)
    assert len(inbox.received) == 1
    [skipped] = await reminder_rows(conn, invitation_id)
    assert skipped["reason"] == "skipped: the survey is retired"


async def test_two_reminders_each_a_delay_after_the_one_before(
    client: Client,
    crm: dict[str, str],
    make_key: KeyFactory,
    conn: asyncpg.Connection,
    worker: OutboxWorker,
    inbox: Inbox,
) -> None:
    rule = await set_rule(
        client,
        await make_key("admin", name="admin"),
        "relationship",
        reminder_count=2,
        reminder_delay_hours=24,
    )
    assert rule["reminders"] == {"count": 2, "delay_hours": 24.0}
    invitation_id = await invite(client, crm)
    await drain(worker)
    [first] = await reminder_rows(conn, invitation_id)
    sent_at = (await invitation_row(conn, invitation_id))["sent_at"]
    assert first["due_at"] == sent_at + timedelta(hours=24)

    await make_reminders_due(conn)
    await drain(worker)
    first, second = await reminder_rows(conn, invitation_id)
    assert (first["status"], second["status"]) == ("sent", "scheduled")
    assert second["due_at"] == first["sent_at"] + timedelta(hours=24)
    assert await drain(worker) == 0

    await make_reminders_due(conn)
    await drain(worker)
    assert await make_reminders_due(conn) == 0, "two, and no third"
    ids = [mail.message["Message-ID"] for mail in inbox.received]
    assert ids[1:] == [
        f"<survey-{invitation_id}-r1@acme.example>",
        f"<survey-{invitation_id}-r2@acme.example>",
    ]
    assert (await invitation_row(conn, invitation_id))["reminders_sent"] == 2


async def test_the_services_default_rules_where_the_touchpoint_says_nothing(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection, pool: asyncpg.Pool, send_settings: Settings
) -> None:
    settings = msgspec.structs.replace(send_settings, reminder_count=0)
    invitation_id = await invite(client, crm)
    await drain(worker_for(pool, settings))
    assert await reminder_rows(conn, invitation_id) == []


async def test_no_reminder_when_the_link_expires_before_it_would_go(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection, worker: OutboxWorker
) -> None:
    await conn.execute("UPDATE surveys SET token_ttl = interval '2 days' WHERE key = 'nps'")
    invitation_id = await invite(client, crm)
    await drain(worker)
    assert (await invitation_row(conn, invitation_id))["status"] == "sent"
    assert await reminder_rows(conn, invitation_id) == []


# -- channels, opt-outs, quiet hours, erasure


async def test_opted_out_of_email_since_the_reminder_goes_by_sms_and_a_reply_answers(
    client: Client,
    crm: dict[str, str],
    conn: asyncpg.Connection,
    worker: OutboxWorker,
    inbox: Inbox,
    provider: FakeProvider,
    settings: Settings,
) -> None:
    invitation_id = await invite(client, crm)
    await drain(worker)
    await conn.execute(
        "INSERT INTO suppressions (channel, address, reason) "
        "VALUES ('email', 'ana@example.com', 'unsubscribe')"
    )
    await make_reminders_due(conn)
    await drain(worker)
    assert len(inbox.received) == 1
    [sms] = provider.requests
    assert sms.form["To"] == PHONE
    assert sms.form["Body"].startswith("Acme, a reminder: How likely are you to recommend us")
    assert sms.headers["I-Twilio-Idempotency-Token"] == f"{invitation_id}:reminder:1"
    [reminded] = await reminder_rows(conn, invitation_id)
    assert (reminded["status"], reminded["channel"]) == ("sent", "sms")
    assert reminded["reason"] == "sent by sms (instead of email: opted out of email)"

    # the reminder opened the SMS conversation: a reply answers this invitation
    async with conn.transaction():
        await store_inbound(conn, message_sid="SM" + "7" * 32, from_phone=PHONE, body="7")
    await process_inbound(conn, "SM" + "7" * 32, settings=settings, now=datetime.now(UTC))
    response = await conn.fetchrow("SELECT invitation_id, score, channel FROM responses")
    assert (response["invitation_id"], response["score"], response["channel"]) == (invitation_id, 7, "sms")


async def test_opted_out_everywhere_since_there_is_no_reminder(
    client: Client,
    crm: dict[str, str],
    conn: asyncpg.Connection,
    worker: OutboxWorker,
    inbox: Inbox,
    provider: FakeProvider,
) -> None:
    invitation_id = await invite(client, crm)
    await drain(worker)
    await conn.execute(
        "INSERT INTO suppressions (channel, address, reason) "
        "VALUES ('email', 'ana@example.com', 'unsubscribe'), ('sms', $1, 'sms_stop')",
        PHONE,
    )
    await make_reminders_due(conn)
    await drain(worker)
    assert (len(inbox.received), provider.requests) == (1, [])
    [skipped] = await reminder_rows(conn, invitation_id)
    assert skipped["reason"] == "skipped: opted out of email, opted out of sms"


async def test_an_sms_reminder_waits_out_the_customers_quiet_hours(
    client: Client,
    crm: dict[str, str],
    conn: asyncpg.Connection,
    worker: OutboxWorker,
    provider: FakeProvider,
) -> None:
    zone = night_zone()
    invitation_id = await invite(client, crm, channel="sms", time_zone=zone)
    await make_sends_due(conn)  # the invitation waited for the morning: let it go
    await drain(worker)
    [planned] = await reminder_rows(conn, invitation_id)
    local_due = planned["due_at"].astimezone(ZoneInfo(zone))
    assert 9 <= local_due.hour < 21, "planned out of quiet hours"

    # it comes due in the middle of the customer's night (a backlog, or a changed time zone)
    await make_reminders_due(conn)
    assert await drain(worker) == 1
    assert len(provider.requests) == 1, "the invitation only"
    [waiting] = await reminder_rows(conn, invitation_id)
    assert waiting["status"] == "scheduled"
    assert waiting["reason"].startswith(f"waiting: sms quiet hours in {zone} until 09:00")
    [job] = await reminder_jobs(conn)
    assert (job["status"], job["attempts"]) == ("pending", 0), "deferred, no attempt spent"
    assert job["run_after"] == waiting["due_at"]
    assert job["run_after"].astimezone(ZoneInfo(zone)).hour == 9
    assert await drain(worker) == 0


async def test_an_erased_customer_is_not_reminded(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection, worker: OutboxWorker, inbox: Inbox
) -> None:
    invitation_id = await invite(client, crm)
    await drain(worker)
    customer_id = await conn.fetchval("SELECT customer_id FROM invitations WHERE id = $1", invitation_id)
    assert (await client.delete(f"/v1/customers/{customer_id}", headers=crm)).status_code == 200
    assert await make_reminders_due(conn) == 0, "the erasure took the customer's queued work"
    await drain(worker)
    assert len(inbox.received) == 1
    [skipped] = await reminder_rows(conn, invitation_id)
    assert (skipped["status"], skipped["reason"]) == ("skipped", "skipped: customer erased")


async def test_an_erasure_racing_the_reminder_wins(
    client: Client,
    crm: dict[str, str],
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    send_settings: Settings,
    worker: OutboxWorker,
    inbox: Inbox,
) -> None:
    # the reminder's job was claimed before the erasure took the queued work, and runs after it
    invitation_id = await invite(client, crm)
    await drain(worker)
    customer_id = await conn.fetchval("SELECT customer_id FROM invitations WHERE id = $1", invitation_id)
    await conn.execute(
        "UPDATE customers SET erased_at = now(), external_id = NULL WHERE id = $1", customer_id
    )
    _, reminder_sender = senders(pool, send_settings)
    job = Job(
        id=0, topic=reminders.TOPIC, payload={"invitation_id": str(invitation_id), "number": 1}, attempts=1
    )
    await reminder_sender(job)
    assert len(inbox.received) == 1
    [skipped] = await reminder_rows(conn, invitation_id)
    assert (skipped["status"], skipped["reason"]) == ("skipped", "skipped: customer erased")


async def test_a_reminder_is_no_new_survey_for_the_contact_cooldown(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection, worker: OutboxWorker, inbox: Inbox
) -> None:
    invitation_id = await invite(client, crm, external_id="crm-cool")
    await drain(worker)
    # the invitation went 31 days ago (the cooldown is 30), and its reminder goes today
    await conn.execute(
        "UPDATE invitations SET created_at = created_at - interval '31 days', "
        "sent_at = sent_at - interval '31 days', expires_at = now() + interval '1 day' WHERE id = $1",
        invitation_id,
    )
    await make_reminders_due(conn)
    await drain(worker)
    assert (await invitation_row(conn, invitation_id))["reminders_sent"] == 1
    assert await conn.fetchval("SELECT count(*) FROM invitations") == 1, "a reminder is no invitation"

    # so the next survey is not held back by the reminder that just went
    recorded = await client.post(
        "/v1/interactions",
        json={
            "customer_external_id": "crm-cool",
            "touchpoint": "relationship",
            "occurred_at": datetime.now(UTC).isoformat(),
        },
        headers=crm,
    )
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["invitation"]["status"] == "queued", recorded.json()["invitation"]["reason"]


# -- failures


async def test_a_refused_recipient_fails_the_reminder_not_the_invitation(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection, worker: OutboxWorker, inbox: Inbox
) -> None:
    invitation_id = await invite(client, crm)
    await drain(worker)
    inbox.refuse["ana@example.com"] = "550 5.1.1 No such user"
    await make_reminders_due(conn)
    await drain(worker)
    [failed] = await reminder_rows(conn, invitation_id)
    assert failed["status"] == "failed"
    assert "550" in failed["reason"]
    assert (await invitation_row(conn, invitation_id))["status"] == "sent"
    assert [j["status"] for j in await reminder_jobs(conn)] == ["dead"]


async def test_a_relay_down_is_retried_then_the_reminder_is_given_up(
    client: Client,
    crm: dict[str, str],
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    worker: OutboxWorker,
    send_settings: Settings,
    inbox: Inbox,
) -> None:
    invitation_id = await invite(client, crm)
    await drain(worker)
    with held_port() as relay_down:  # bound, never listening: every connection is refused
        down = worker_for(pool, msgspec.structs.replace(send_settings, smtp_port=port_of(relay_down)))
        await make_reminders_due(conn)
        assert await drain(down) == 1
        [job] = await reminder_jobs(conn)
        assert (job["status"], job["attempts"]) == ("pending", 1)
        assert "Could not talk to SMTP server" in job["last_error"]
        [retrying] = await reminder_rows(conn, invitation_id)
        assert retrying["status"] == "sending"

        # the worker's last try: the relay is still down
        await conn.execute(
            "UPDATE outbox SET attempts = $1 - 1 WHERE topic = $2", REMINDER_TRIES, reminders.TOPIC
        )
        await make_reminders_due(conn)
        assert await drain(down) == 1
        [failed] = await reminder_rows(conn, invitation_id)
        assert failed["status"] == "failed"
        assert failed["reason"].startswith("failed: not delivered: ")
        assert [j["status"] for j in await reminder_jobs(conn)] == ["done"]
        assert len(inbox.received) == 1
