"""The console queue filtered by comment theme: only tasks whose evidence says something about it."""

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import KeyFactory
from tests.integration.console.seed import insert_customer, insert_response, insert_task
from tests.integration.users.console_helpers import log_in, make_user

Client = AsyncTestClient[Litestar]


async def task_with_comment(conn: asyncpg.Connection, *, name: str, text: str, theme_id: int | None) -> None:
    customer = await insert_customer(conn, name=name)
    response = await insert_response(conn, customer, comment=text)
    task = await insert_task(conn, customer)
    await conn.execute(
        "INSERT INTO recovery_evidence (task_id, trigger, response_id) VALUES ($1, 'nps_detractor', $2)",
        task,
        response,
    )
    if theme_id is not None:
        await conn.execute(
            "INSERT INTO theme_assignments (response_id, theme_id, weight) VALUES ($1, $2, 0.9)",
            response,
            theme_id,
        )


async def test_the_queue_shows_only_tasks_about_the_chosen_theme(
    client: Client, conn: asyncpg.Connection
) -> None:
    late = await conn.fetchval(
        "INSERT INTO themes (locale, label, comments) VALUES ('en', 'Late parcels', 1) RETURNING id"
    )
    bills = await conn.fetchval(
        "INSERT INTO themes (locale, label, comments) VALUES ('en', 'Wrong bills', 1) RETURNING id"
    )
    await task_with_comment(conn, name="Dana Late", text="the parcel was late", theme_id=late)
    await task_with_comment(conn, name="Erik Bill", text="charged twice", theme_id=bills)
    await task_with_comment(conn, name="Li None", text="meh", theme_id=None)
    await make_user(conn, email="agent@example.com", name="Alex Agent")
    assert (await log_in(client, "agent@example.com")).status_code == 303

    everything = (await client.get("/console/queue")).text
    assert all(name in everything for name in ("Dana Late", "Erik Bill", "Li None"))
    assert "Late parcels" in everything  # offered as a filter
    filtered = await client.get(f"/console/queue?theme={late}")
    assert filtered.status_code == 200
    assert "Dana Late" in filtered.text
    assert "Erik Bill" not in filtered.text
    assert "Li None" not in filtered.text
    nonsense = await client.get("/console/queue?theme=99999999999999999999")
    assert nonsense.status_code == 422
    assert "Li None" in nonsense.text  # the filter is dropped, the queue still shows


async def test_the_tasks_api_filters_by_theme(
    client: Client, conn: asyncpg.Connection, make_key: KeyFactory
) -> None:
    late = await conn.fetchval(
        "INSERT INTO themes (locale, label) VALUES ('en', 'Late parcels') RETURNING id"
    )
    await task_with_comment(conn, name="Dana Late", text="the parcel was late", theme_id=late)
    await task_with_comment(conn, name="Li None", text="meh", theme_id=None)
    agent = await make_key("agent", name="team")
    everything = (await client.get("/v1/recovery/tasks", headers=agent)).json()["items"]
    about = (await client.get(f"/v1/recovery/tasks?theme={late}", headers=agent)).json()["items"]
    assert len(everything) == 2
    assert len(about) == 1
    detail = (await client.get(f"/v1/recovery/tasks/{about[0]['id']}", headers=agent)).json()
    said = await conn.fetchval("SELECT response_id FROM theme_assignments WHERE theme_id = $1", late)
    assert [e["response_id"] for e in detail["evidence"]] == [str(said)]
    assert (await client.get("/v1/recovery/tasks?theme=0", headers=agent)).status_code in (400, 422)
    assert (await client.get(f"/v1/recovery/tasks?theme={2**63}", headers=agent)).status_code in (400, 422)
