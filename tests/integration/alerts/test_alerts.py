"""Alerts end to end: raised by the change that calls for them, sent over a real SMTP server and to a
real HTTP receiver, bounded, recorded, and never lost or doubled by racing runners."""

import asyncio
import re
from collections import Counter
from datetime import timedelta
from email.message import EmailMessage

import asyncpg
import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient
from standardwebhooks import Webhook

from feedback_svc.alerts.queries import claim_alerts
from feedback_svc.app import create_app
from feedback_svc.settings import Settings
from tests.integration.alerts.conftest import (
    AGENTS,
    BASE_URL,
    MAIL_FROM,
    MANAGERS,
    SIGNING_SECRET,
    Team,
    alerts,
    hours_from_now,
    send_all,
    sender_for,
    set_rule,
    sweeper,
)
from tests.integration.delivery.email.conftest import Inbox
from tests.integration.recovery.conftest import answer, drain, insert_customer, insert_task
from tests.integration.webhooks.receiver import Receiver
from tests.waiting import eventually

Client = AsyncTestClient[Litestar]


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert isinstance(body, EmailMessage)
    return body.get_content()


async def test_a_contact_request_alerts_the_team_by_email_with_a_link_to_the_task(
    client: Client,
    crm: dict[str, str],
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    settings: Settings,
    team: Team,
    inbox: tuple[Inbox, int],
) -> None:
    customer = await insert_customer(conn, value=800)
    await conn.execute("UPDATE customers SET name = 'Dana Example' WHERE id = $1", customer)
    await answer(client, crm, customer, survey="nps", score=2, contact=True)
    await drain(pool, settings)
    await drain(pool, settings)  # a redelivered event raises nothing new

    task = await conn.fetchrow("SELECT id, priority FROM recovery_tasks WHERE customer_id = $1", customer)
    raised = await alerts(conn)
    # a contact request is urgent (priority 100 and more): nobody owns the new task, so every
    # agent hears, and the managers too
    assert task["priority"] >= 100
    assert {(a["trigger"], a["urgency"], a["channel"]) for a in raised} == {
        ("contact_request", "urgent", "email")
    }
    assert sorted(a["recipient"] for a in raised) == sorted(AGENTS + MANAGERS)
    assert {a["task_id"] for a in raised} == {task["id"]}

    box, port = inbox
    assert await send_all(sender_for(pool, settings, smtp_port=port)) == 3
    assert sorted(r for m in box.received for r in m.rcpt_tos) == sorted(AGENTS + MANAGERS)
    message = box.received[0].message
    subject = " ".join(message["Subject"].split())  # unfolded, as a mail client shows it
    assert subject == "[Customer feedback] Contact requested: Dana Example asked to be contacted"
    assert message["Auto-Submitted"] == "auto-generated"
    assert re.fullmatch(r"<alert-\d+@acme\.example>", message["Message-ID"])
    assert box.received[0].mail_from == MAIL_FROM
    text = text_of(message)
    assert f"Open the task: {BASE_URL}/console/tasks/{task['id']}" in text
    assert "Answer: NPS 2 (0-10)" in text
    assert "Owner: nobody yet" in text
    html = message.get_body(preferencelist=("html",)).get_content()
    assert f'href="{BASE_URL}/console/tasks/{task["id"]}"' in html
    sent = await alerts(conn)
    assert {a["status"] for a in sent} == {"sent"}
    assert all(a["sent_at"] for a in sent)
    assert await send_all(sender_for(pool, settings, smtp_port=port)) == 0
    assert len(box.received) == 3


async def test_an_unhappy_high_value_customer_alerts_and_a_low_value_one_does_not(
    client: Client,
    crm: dict[str, str],
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    settings: Settings,
    team: Team,
) -> None:
    rich = await insert_customer(conn, value=settings.recovery_high_value)
    modest = await insert_customer(conn, value=settings.recovery_high_value - 1)
    await answer(client, crm, rich, survey="nps", score=3)
    await answer(client, crm, modest, survey="nps", score=3)
    await drain(pool, settings)
    raised = await alerts(conn)
    rich_task = await conn.fetchval("SELECT id FROM recovery_tasks WHERE customer_id = $1", rich)
    assert {a["task_id"] for a in raised} == {rich_task}
    assert {(a["trigger"], a["urgency"]) for a in raised} == {("high_value_detractor", "normal")}
    assert sorted(a["recipient"] for a in raised) == sorted(AGENTS)


async def test_escalation_raises_priority_with_its_reason_alerts_owner_and_managers_once(
    client: Client,
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    settings: Settings,
    team: Team,
    admin: dict[str, str],
) -> None:
    owned = await insert_task(
        conn, await insert_customer(conn), priority=70.0, deadline_at=hours_from_now(-2)
    )
    await conn.execute("UPDATE recovery_tasks SET assignee = $2 WHERE id = $1", owned, AGENTS[1])
    fresh = await insert_task(conn, await insert_customer(conn), deadline_at=hours_from_now(20))

    sweeps = await asyncio.gather(*(sweeper(pool, settings).sweep_once() for _ in range(3)))
    assert sum(s.escalated for s in sweeps) == 1
    assert (await sweeper(pool, settings).sweep_once()).escalated == 0

    detail = (await client.get(f"/v1/recovery/tasks/{owned}", headers=admin)).json()
    assert detail["task"]["priority"] == 120.0
    reason = detail["task"]["priority_reasons"][-1]
    assert (reason["factor"], reason["points"]) == ("escalated", 50.0)
    assert reason["text"].startswith("escalated: nobody contacted the customer by the deadline, ")
    assert detail["history"][-1]["action"] == "escalated"
    assert detail["history"][-1]["details"]["priority_points"] == 50.0
    listed = (await client.get("/v1/recovery/tasks?escalated=true", headers=admin)).json()
    assert [t["id"] for t in listed["items"]] == [str(owned)]
    others = (await client.get("/v1/recovery/tasks?escalated=false", headers=admin)).json()
    assert [t["id"] for t in others["items"]] == [str(fresh)]

    # the owner and the managers, once, however many sweeps ran
    raised = await alerts(conn, trigger="escalated")
    assert sorted(a["recipient"] for a in raised) == sorted([AGENTS[1], *MANAGERS])
    assert {a["task_id"] for a in raised} == {owned}
    events = await conn.fetch("SELECT payload FROM outbox WHERE payload->>'type' = 'task.escalated'")
    assert [e["payload"]["data"]["priority"] for e in events] == [120.0]


async def test_new_evidence_keeps_the_escalation_and_reopening_drops_it(
    client: Client,
    crm: dict[str, str],
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    settings: Settings,
    admin: dict[str, str],
) -> None:
    customer = await insert_customer(conn)
    await answer(client, crm, customer, survey="nps", score=4)
    await drain(pool, settings)
    await conn.execute("UPDATE recovery_tasks SET deadline_at = now() - interval '1 hour'")
    await sweeper(pool, settings).sweep_once()
    before = await conn.fetchval("SELECT priority FROM recovery_tasks")

    await answer(client, crm, customer, survey="csat", score=1)
    await drain(pool, settings)
    task = await conn.fetchrow("SELECT id, priority, priority_reasons FROM recovery_tasks")
    factors = [r["factor"] for r in task["priority_reasons"]]
    assert factors.count("escalated") == 1
    assert task["priority"] == before + 5.0  # the second signal's points, the escalation kept

    await conn.execute(
        "UPDATE recovery_tasks SET status = 'resolved', outcome = 'recovered', root_cause = 'x', "
        "resolved_at = now() WHERE id = $1",
        task["id"],
    )
    reopened = await client.post(
        f"/v1/recovery/tasks/{task['id']}/reopen", json={"reason": "called back angry"}, headers=admin
    )
    assert reopened.status_code == 200, reopened.text
    body = reopened.json()
    assert body["escalated_at"] is None
    assert "escalated" not in [r["factor"] for r in body["priority_reasons"]]
    assert body["priority"] == task["priority"] - 50.0


async def test_a_deadline_near_warns_once_and_a_contact_meanwhile_cancels_the_alert(
    conn: asyncpg.Connection, pool: asyncpg.Pool, settings: Settings, team: Team, inbox: tuple[Inbox, int]
) -> None:
    soon = await insert_task(conn, await insert_customer(conn), deadline_at=hours_from_now(0.5))
    contacted = await insert_task(conn, await insert_customer(conn), deadline_at=hours_from_now(0.25))
    await insert_task(conn, await insert_customer(conn), deadline_at=hours_from_now(3))  # not yet
    await insert_task(conn, await insert_customer(conn), deadline_at=hours_from_now(0.5), control=True)

    first = await sweeper(pool, settings).sweep_once()
    assert first.deadline_near == 2
    assert (await sweeper(pool, settings).sweep_once()).deadline_near == 0
    raised = await alerts(conn, trigger="deadline_near")
    assert {a["task_id"] for a in raised} == {soon, contacted}
    assert sorted(a["recipient"] for a in raised if a["task_id"] == soon) == sorted(AGENTS)

    await conn.execute("UPDATE recovery_tasks SET first_contact_at = now() WHERE id = $1", contacted)
    box, port = inbox
    await send_all(sender_for(pool, settings, smtp_port=port))
    settled = await alerts(conn, trigger="deadline_near")
    assert {(a["task_id"], a["status"]) for a in settled} == {(soon, "sent"), (contacted, "cancelled")}
    assert {a["error"] for a in settled if a["status"] == "cancelled"} == {
        "the customer was contacted before the alert went out"
    }
    # one message per agent, about the task still waiting for a call
    assert sorted(r for m in box.received for r in m.rcpt_tos) == sorted(AGENTS)
    assert all("contact due in" in text_of(m.message) for m in box.received)


async def test_slack_compatible_urls_get_signed_json_retried_until_taken(
    conn: asyncpg.Connection, pool: asyncpg.Pool, settings: Settings, receiver: Receiver
) -> None:
    await set_rule(conn, "escalated", "normal", slack=[receiver.url])
    await set_rule(conn, "escalated", "urgent", slack=[receiver.url])
    # priority 20, 70 once escalated: the `normal` rule
    task = await insert_task(conn, await insert_customer(conn), priority=20.0, deadline_at=hours_from_now(-1))
    await sweeper(pool, settings).sweep_once()
    receiver.answer(500, 429)

    sender = sender_for(pool, settings)
    for _ in range(3):  # 500, 429, then taken (the schedule's waits are zero here)
        async with sender.client() as http:
            assert await sender.run_once(http) == 1
    assert [r.headers["x-test-status"] for r in receiver.received] == ["500", "429", "204"]
    assert len({r.message_id for r in receiver.received}) == 1
    for request in receiver.received:
        verified = Webhook(SIGNING_SECRET).verify(request.body, request.headers)
        assert verified == request.payload
    payload = receiver.received[-1].payload
    assert payload["text"].startswith("Escalated: ")
    assert f"{BASE_URL}/console/tasks/{task}" in payload["text"]
    assert payload["blocks"][0] == {"type": "header", "text": {"type": "plain_text", "text": "Escalated"}}
    assert f"<{BASE_URL}/console/tasks/{task}|" in payload["blocks"][1]["text"]["text"]
    [row] = await alerts(conn)
    assert (row["status"], row["attempts"], row["error"]) == ("sent", 3, None)


async def test_a_receiver_refusing_the_url_fails_the_alert_at_once_and_the_record_says_why(
    conn: asyncpg.Connection, pool: asyncpg.Pool, settings: Settings, receiver: Receiver
) -> None:
    await set_rule(conn, "escalated", "normal", slack=[receiver.url])
    await insert_task(conn, await insert_customer(conn), priority=20.0, deadline_at=hours_from_now(-1))
    await sweeper(pool, settings).sweep_once()
    receiver.answer(404)
    await send_all(sender_for(pool, settings))
    [row] = await alerts(conn)
    assert row["status"] == "failed"
    assert row["error"].startswith("HTTP 404: the receiver refuses it")


async def test_a_storm_for_one_person_becomes_one_message_and_the_hourly_cap_holds(
    conn: asyncpg.Connection, pool: asyncpg.Pool, settings: Settings, team: Team, inbox: tuple[Inbox, int]
) -> None:
    await set_rule(conn, "escalated", "normal", roles=["manager"])
    await set_rule(conn, "escalated", "urgent", roles=["manager"])
    # 600 customers' promises broken at once (an outage of the phone system, say)
    await conn.execute(
        """WITH c AS (INSERT INTO customers (external_id, value)
                      SELECT 'storm-' || n, 100 FROM generate_series(1, 600) n RETURNING id)
           INSERT INTO recovery_tasks (customer_id, trigger, priority, deadline_at)
           SELECT id, 'nps_detractor', 50, now() - interval '1 hour' FROM c"""
    )
    assert (await sweeper(pool, settings).sweep_once()).escalated == 600
    box, port = inbox
    capped = msgspec.structs.replace(settings, alerts_per_recipient_per_hour=2)
    assert await send_all(sender_for(pool, capped, smtp_port=port)) == 600

    [storm] = [m.message for m in box.received]
    assert " ".join(storm["Subject"].split()).endswith("(+599 more)")
    text = text_of(storm)
    assert "599 more alerts:" in text
    assert text.count(f"{BASE_URL}/console/tasks/") == 1 + 10  # the lead, then ten listed
    assert f"and 589 more: {BASE_URL}/console/alerts" in text
    assert Counter(a["status"] for a in await alerts(conn)) == {"sent": 600}

    # two more rounds of escalations: the second message goes, the third waits for the hour
    for _ in range(2):
        await insert_task(conn, await insert_customer(conn), deadline_at=hours_from_now(-1))
        await sweeper(pool, settings).sweep_once()
        await send_all(sender_for(pool, capped, smtp_port=port))
        assert len(box.received) == 2
    [waiting] = await alerts(conn, status="pending")
    first_sent = await conn.fetchval("SELECT min(sent_at) FROM alerts")
    assert waiting["next_attempt_at"] == first_sent + timedelta(hours=1)
    assert (waiting["attempts"], waiting["message_key"]) == (0, None)


async def test_many_senders_at_once_send_each_alert_in_exactly_one_message(
    conn: asyncpg.Connection, pool: asyncpg.Pool, settings: Settings, receiver: Receiver
) -> None:
    urls = [f"{receiver.url}/{n}" for n in range(6)]
    await set_rule(conn, "escalated", "normal", slack=urls)
    await set_rule(conn, "escalated", "urgent", slack=urls)
    for _ in range(8):
        await insert_task(conn, await insert_customer(conn), deadline_at=hours_from_now(-1))
    await sweeper(pool, settings).sweep_once()
    receiver.delay = 0.05  # the sends overlap

    senders = [sender_for(pool, settings, name=f"sender-{n}", recipients_per_claim=2) for n in range(4)]
    await asyncio.gather(*(send_all(s) for s in senders))

    rows = await alerts(conn)
    assert Counter(r["status"] for r in rows) == {"sent": 48}
    keys = {r["message_key"] for r in rows}
    # every message arrived once, and each alert was in one of them
    assert Counter(r.message_id for r in receiver.received) == {f"alert-{k}": 1 for k in keys}
    assert {r["attempts"] for r in rows} == {1}


async def test_alerts_of_a_task_resolved_meanwhile_are_cancelled_not_sent(
    conn: asyncpg.Connection, pool: asyncpg.Pool, settings: Settings, team: Team, inbox: tuple[Inbox, int]
) -> None:
    task = await insert_task(conn, await insert_customer(conn), deadline_at=hours_from_now(-1))
    await sweeper(pool, settings).sweep_once()
    await conn.execute(
        "UPDATE recovery_tasks SET status = 'resolved', outcome = 'unreachable', root_cause = 'x', "
        "resolved_at = now() WHERE id = $1",
        task,
    )
    box, port = inbox
    await send_all(sender_for(pool, settings, smtp_port=port))
    assert box.received == []
    rows = await alerts(conn)
    assert len(rows) == 3
    assert {(r["status"], r["error"]) for r in rows} == {
        ("cancelled", "the task was resolved before the alert went out")
    }


async def test_a_runner_that_dies_after_its_claim_loses_nothing_and_doubles_nothing(
    conn: asyncpg.Connection, pool: asyncpg.Pool, settings: Settings, team: Team, inbox: tuple[Inbox, int]
) -> None:
    await insert_task(conn, await insert_customer(conn), deadline_at=hours_from_now(-1))
    await sweeper(pool, settings).sweep_once()
    # a runner claims (committed) and dies before it sends: nothing left the building
    claimed = await claim_alerts(pool, runner="dead-runner", recipients=100, lease=timedelta(minutes=5))
    assert len(claimed) == 3
    box, port = inbox
    alive = sender_for(pool, settings, smtp_port=port)
    assert await send_all(alive) == 0, "the dead runner's lease still holds them"

    await conn.execute("UPDATE alerts SET locked_until = now() - interval '1 second'")  # the lease ends
    assert await send_all(alive) == 3
    rows = await alerts(conn)
    assert {(r["status"], r["attempts"]) for r in rows} == {("sent", 2)}
    # the same messages the dead runner would have sent, each once
    assert sorted(m.message["Message-ID"] for m in box.received) == sorted(
        f"<alert-{c.message_key}@acme.example>" for c in claimed
    )
    assert sorted(r for m in box.received for r in m.rcpt_tos) == sorted([*AGENTS, *MANAGERS])


async def test_a_running_service_escalates_and_emails_on_its_own(
    conn: asyncpg.Connection, settings: Settings, team: Team, inbox: tuple[Inbox, int]
) -> None:
    box, port = inbox
    task = await insert_task(conn, await insert_customer(conn), deadline_at=hours_from_now(-1))
    running = msgspec.structs.replace(
        settings,
        run_workers=True,
        recovery_sweep_seconds=0.2,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
    )
    async with AsyncTestClient(app=create_app(running)):

        async def received() -> int:
            return len(box.received)

        await eventually(received, until=lambda n: n >= 3, what="three alert emails", timeout=30)
    assert sorted(r for m in box.received for r in m.rcpt_tos) == sorted([*AGENTS, *MANAGERS])
    assert all(f"{BASE_URL}/console/tasks/{task}" in text_of(m.message) for m in box.received)
