"""Task pages tell their story in sentences; queue cards say what caused a task; managers reset passwords."""

import re

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.console.seed import insert_customer, insert_response, insert_task, seed_story
from tests.integration.console.test_queue_and_task_pages import agent_client, text_of
from tests.integration.users.console_helpers import PASSWORD, log_in, make_user, page_token

Client = AsyncTestClient[Litestar]
# what a key:value dump looks like: "control: False", "evidence id: 12", "high value: True"
DUMP = re.compile(r"\b[a-z]+(?: [a-z]+)?: (?:True|False|None|\d+(?:\.\d+)?)\b|evidence.id")


async def test_evidence_and_history_read_as_sentences_and_the_holder_is_the_owner(
    client: Client, conn: asyncpg.Connection
) -> None:
    email = await agent_client(client, conn)
    story = await seed_story(conn)
    # evidence and history as the queue's trigger consumer writes them
    await conn.execute(
        """UPDATE recovery_evidence SET details = jsonb_build_object(
                  'kind', 'nps', 'score', 2, 'contact_requested', false, 'channel', 'email',
                  'touchpoint', 'delivery', 'critical', true, 'urgency', 0.6,
                  'deadline_at', now() + interval '8 hours')
            WHERE task_id = $1""",
        story.task_id,
    )
    await conn.execute(
        """INSERT INTO recovery_task_history (task_id, actor, action, details)
           VALUES ($1, 'system', 'created', jsonb_build_object(
                  'trigger', 'nps_detractor', 'evidence_id', 1220, 'priority', 98.5,
                  'deadline_at', now() + interval '8 hours', 'high_value', false, 'control', false))""",
        story.task_id,
    )
    token = await page_token(client, "/console/queue")
    await client.post("/console/queue/claim", data={"csrf_token": token})
    page = await client.get(f"/console/tasks/{story.task_id}")
    text = text_of(page.text)
    assert "Answered NPS 2 (0-10) by email after delivery (a moment of truth): a detractor." in text
    assert "Opened for an NPS detractor answer, priority 98.5. Contact due by" in text
    assert not DUMP.search(text), DUMP.findall(text)
    # the agent holds the task: the page says so rather than "nobody"
    assert "Owner you (working on it)" in text
    assert (
        await conn.fetchval("SELECT lease_holder FROM recovery_tasks WHERE id = $1", story.task_id) == email
    )
    # one tap to call or write
    assert 'href="tel:+4930123456"' in page.text
    assert re.search(r'href="mailto:[0-9a-f]{6}@example\.com"', page.text)


async def test_queue_cards_show_the_answer_that_caused_the_task(
    client: Client, conn: asyncpg.Connection
) -> None:
    await agent_client(client, conn)
    customer = await insert_customer(conn, name="Quinn Quote")
    response = await insert_response(conn, customer, kind="csat", score=1, comment="Parcel came open")
    task = await insert_task(conn, customer, trigger="csat_low")
    await conn.execute(
        "INSERT INTO recovery_evidence (task_id, trigger, response_id) VALUES ($1, 'csat_low', $2)",
        task,
        response,
    )
    silent = await insert_customer(conn, name="Sid Silent")
    quiet = await insert_response(conn, silent, score=3, comment=None)
    other = await insert_task(conn, silent)
    await conn.execute(
        "INSERT INTO recovery_evidence (task_id, trigger, response_id) VALUES ($1, 'nps_detractor', $2)",
        other,
        quiet,
    )
    text = text_of((await client.get("/console/queue")).text)
    assert "CSAT 1: “Parcel came open”" in text
    assert "NPS 3, no comment" in text


async def test_a_manager_sets_a_new_password_and_the_old_one_stops_working(
    client: Client, conn: asyncpg.Connection
) -> None:
    fay = await make_user(conn, email="fay@example.com", name="Fay")
    await make_user(conn, email="boss@example.com", role="manager", name="Boss")
    # Fay is signed in somewhere, and locked out of the next attempt
    assert (await log_in(client, "fay@example.com")).status_code == 303
    fays_session = dict(client.cookies)
    await conn.execute("UPDATE users SET locked_until = now() + interval '1 hour' WHERE id = $1", fay.id)
    client.cookies.clear()
    await log_in(client, "boss@example.com")
    token = await page_token(client, "/console/users")
    short = await client.post(
        f"/console/users/{fay.id}/password", data={"csrf_token": token, "password": "x"}
    )
    assert short.status_code == 422
    assert "The password was not changed" in short.text
    new = "a brand new passphrase 42"
    done = await client.post(
        f"/console/users/{fay.id}/password",
        data={"csrf_token": token, "password": new},
        follow_redirects=False,
    )
    assert done.headers["location"] == "/console/users?done=password"
    # her old session is gone, the lock too; the new password works and the old does not
    client.cookies.clear()
    client.cookies.update(fays_session)
    assert (await client.get("/console/queue", follow_redirects=False)).status_code == 303
    client.cookies.clear()
    assert (await log_in(client, "fay@example.com", PASSWORD)).status_code == 401
    assert (await log_in(client, "fay@example.com", new)).status_code == 303
    audit = await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'user.password_reset'")
    assert audit == 1
