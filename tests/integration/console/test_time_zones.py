"""Agents read times in their own time zone: deadlines, leases, history, the home page."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.console.seed import seed_story
from tests.integration.console.test_queue_and_task_pages import text_of
from tests.integration.users.console_helpers import log_in, make_user, page_token

Client = AsyncTestClient[Litestar]
TOKYO = ZoneInfo("Asia/Tokyo")


def in_tokyo(moment: datetime) -> str:
    return f"{moment.astimezone(TOKYO):%Y-%m-%d %H:%M} JST"


async def test_an_agent_picks_a_time_zone_and_every_time_on_the_task_page_is_in_it(
    client: Client, conn: asyncpg.Connection
) -> None:
    await make_user(conn, email="kenji@example.com", name="Kenji")
    assert (await log_in(client, "kenji@example.com")).status_code == 303
    story = await seed_story(conn)
    # the customer lives elsewhere: the page says what time it is for them
    await conn.execute("UPDATE customers SET time_zone = 'Europe/Lisbon' WHERE id = $1", story.customer_id)
    home = await client.get("/console")
    assert "UTC" in text_of(home.text)  # the default until they choose

    token = await page_token(client)
    wrong = await client.post("/console/time-zone", data={"csrf_token": token, "time_zone": "Mars/Olympus"})
    assert wrong.status_code == 422
    assert "is not a time zone" in wrong.text
    saved = await client.post(
        "/console/time-zone", data={"csrf_token": token, "time_zone": "Asia/Tokyo"}, follow_redirects=False
    )
    assert saved.headers["location"] == "/console?done=zone"
    assert (
        await conn.fetchval("SELECT time_zone FROM users WHERE email = 'kenji@example.com'") == "Asia/Tokyo"
    )

    claimed = await client.post("/console/queue/claim", data={"csrf_token": token})
    text = text_of(claimed.text)
    task = await conn.fetchrow(
        "SELECT deadline_at, lease_expires_at FROM recovery_tasks WHERE id = $1", story.task_id
    )
    answered = await conn.fetchval("SELECT answered_at FROM responses WHERE id = $1", story.response_id)
    claimed_at = await conn.fetchval("SELECT created_at FROM recovery_task_history WHERE action = 'claimed'")
    for moment in (task["lease_expires_at"], answered, claimed_at):
        assert in_tokyo(moment) in text, (in_tokyo(moment), text)
    assert in_tokyo(task["deadline_at"]) in claimed.text  # the deadline's title
    assert re.search(r"their time \d{4}-\d\d-\d\d \d\d:\d\d WE[S]?T", text)
    # no time on the page is left in UTC
    assert not re.search(r"\d\d:\d\d UTC", text), re.findall(r".{30}\d\d:\d\d UTC", text)

    queue = await client.get("/console/queue")
    assert in_tokyo(task["deadline_at"]) in queue.text


async def test_a_manager_gives_a_new_account_its_time_zone(client: Client, conn: asyncpg.Connection) -> None:
    await make_user(conn, email="boss@example.com", role="manager", name="Boss")
    await log_in(client, "boss@example.com")
    token = await page_token(client, "/console/users")
    form = {
        "csrf_token": token, "name": "Ana", "email": "ana@example.com", "role": "agent",
        "time_zone": "Europe/Berlin", "password": "correct horse battery staple",
    }  # fmt: skip
    created = await client.post("/console/users", data=form)
    assert created.status_code == 200, created.text
    assert (
        await conn.fetchval("SELECT time_zone FROM users WHERE email = 'ana@example.com'") == "Europe/Berlin"
    )
    refused = await client.post(
        "/console/users", data={**form, "email": "bo@example.com", "time_zone": "CET+1"}
    )
    assert refused.status_code == 422
    assert "is not a time zone" in refused.text
