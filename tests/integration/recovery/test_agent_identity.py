"""Who works a task is the credential's agent, never a name the client sends.

An API key acts for the agent it was created for; a console user acts as themselves. Tasks
assigned to someone are claimed by nobody else, whatever the request says, and only the lease
holder or an admin can assign.
"""

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.apikeys.service import create_api_key
from feedback_svc.lib.errors import InvalidInput
from tests.conftest import KeyFactory
from tests.integration.recovery.conftest import insert_customer, insert_task
from tests.integration.recovery.test_queue_api import claim
from tests.integration.users.console_helpers import log_in, make_user, page_token

Client = AsyncTestClient[Litestar]
CLAIM = "/v1/recovery/tasks/claim"


async def assign(client: Client, headers: dict[str, str], task_id: object, **body: object) -> dict:
    response = await client.post(f"/v1/recovery/tasks/{task_id}/assign", json=body, headers=headers)
    return {**response.json(), "http": response.status_code}


async def test_a_task_assigned_to_bob_is_claimed_by_bob_and_by_no_one_claiming_to_be_him(
    client: Client, make_key: KeyFactory, conn: asyncpg.Connection
) -> None:
    ana = await make_key("agent", name="ana-key", agent="ana")
    bob = await make_key("agent", name="bob-key", agent="bob")
    team = await make_key("agent", name="team")
    admin = await make_key("admin", name="ops")
    task_id = await insert_task(conn, await insert_customer(conn), priority=90)
    assert (await assign(client, admin, task_id, assignee="bob"))["http"] == 200

    # ana's key saying it is bob: refused outright, nothing claimed
    spoofed = await client.post(CLAIM, json={"agent": "bob"}, headers=ana)
    assert spoofed.status_code == 403
    assert "acts for the agent 'ana'" in spoofed.json()["detail"]
    # a key that acts for nobody may send any name: it stays a display name
    assert await claim(client, team, agent="bob") is None
    assert await claim(client, admin) is None
    assert await claim(client, ana) is None
    assert await conn.fetchval("SELECT lease_holder FROM recovery_tasks WHERE id = $1", task_id) is None

    mine = await claim(client, bob, agent="bob")
    assert mine is not None
    assert (mine["id"], mine["lease_holder"]) == (str(task_id), "bob")


async def test_a_key_acting_for_nobody_works_unassigned_tasks_under_its_own_name(
    client: Client, make_key: KeyFactory, conn: asyncpg.Connection
) -> None:
    team = await make_key("agent", name="floor")
    task_id = await insert_task(conn, await insert_customer(conn))
    task = await claim(client, team, agent="ana")
    assert task is not None
    # the sent name is kept for people to read, marked as what the key said
    assert task["lease_holder"] == "ana via floor (API key)"
    note = await client.post(
        f"/v1/recovery/tasks/{task_id}/notes",
        json={"lease_token": task["lease_token"], "text": "left a voicemail"},
        headers=team,
    )
    assert note.status_code == 201, note.text
    actors = await conn.fetch(
        "SELECT actor FROM recovery_task_history WHERE task_id = $1 ORDER BY id", task_id
    )
    assert [a["actor"] for a in actors] == ["ana via floor (API key)", "floor (API key)"]


async def test_assigning_needs_the_lease_or_an_admin_and_someone_who_can_claim(
    client: Client, make_key: KeyFactory, conn: asyncpg.Connection
) -> None:
    ana = await make_key("agent", name="ana-key", agent="ana")
    bob = await make_key("agent", name="bob-key", agent="bob")
    admin = await make_key("admin", name="ops")
    await make_user(conn, email="Cleo@Example.com", name="Cleo")
    task_id = await insert_task(conn, await insert_customer(conn))

    no_lease = await assign(client, bob, task_id, assignee="bob")
    assert no_lease["http"] == 403
    assert "lease_token" in no_lease["detail"]
    nobody = await assign(client, admin, task_id, assignee="agent-7")
    assert nobody["http"] == 422
    assert nobody["errors"] == [{"field": "assignee", "message": "not an agent", "source": "body"}]
    # a console user is assigned by their stored email, whatever case the request used
    to_cleo = await assign(client, admin, task_id, assignee="cleo@EXAMPLE.com")
    assert (to_cleo["http"], to_cleo["assignee"]) == (200, "Cleo@example.com")
    assert (await assign(client, admin, task_id, assignee=None))["assignee"] is None

    task = await claim(client, ana)
    assert task is not None
    stale = await assign(
        client, ana, task_id, assignee="bob", lease_token="00000000-0000-4000-8000-000000000000"
    )
    assert stale["http"] == 409
    # keeping it: the lease stays
    kept = await assign(client, ana, task_id, assignee="ana", lease_token=task["lease_token"])
    assert (kept["http"], kept["assignee"], kept["lease_holder"]) == (200, "ana", "ana")
    # handing it over ends the lease, so bob can claim it at once and nobody else can
    handed = await assign(client, ana, task_id, assignee="bob", lease_token=task["lease_token"])
    assert (handed["http"], handed["assignee"], handed["lease_holder"]) == (200, "bob", None)
    assert await claim(client, ana) is None
    taken = await claim(client, bob)
    assert taken is not None
    assert taken["id"] == str(task_id)
    details = await conn.fetchval(
        "SELECT details FROM recovery_task_history WHERE action = 'assigned' ORDER BY id DESC LIMIT 1"
    )
    assert (details["assignee"], details["previous"], details["lease_ended"]) == ("bob", "ana", True)


async def test_a_revoked_agent_key_can_no_longer_be_assigned_work(
    client: Client, make_key: KeyFactory, conn: asyncpg.Connection
) -> None:
    admin = await make_key("admin", name="ops")
    await make_key("agent", name="dan-key", agent="dan")
    task_id = await insert_task(conn, await insert_customer(conn))
    assert (await assign(client, admin, task_id, assignee="dan"))["http"] == 200
    await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE agent = 'dan'")
    assert (await assign(client, admin, task_id, assignee="dan"))["http"] == 422


async def test_a_console_user_and_their_own_key_are_the_same_agent(
    client: Client, make_key: KeyFactory, conn: asyncpg.Connection
) -> None:
    await make_user(conn, email="alex@example.com", name="Alex Agent")
    alex_key = await make_key("agent", name="alex-phone", agent="alex@example.com")
    other = await make_key("agent", name="sam-key", agent="sam")
    admin = await make_key("admin", name="ops")
    task_id = await insert_task(conn, await insert_customer(conn))
    await assign(client, admin, task_id, assignee="alex@example.com")
    assert await claim(client, other) is None
    assert (await log_in(client, "alex@example.com")).status_code == 303
    token = await page_token(client, "/console/queue")
    claimed = await client.post("/console/queue/claim", data={"csrf_token": token}, follow_redirects=False)
    assert claimed.headers["location"] == f"/console/tasks/{task_id}?done=claimed"
    holder = await conn.fetchval("SELECT lease_holder FROM recovery_tasks WHERE id = $1", task_id)
    assert holder == "alex@example.com"
    await conn.execute("UPDATE recovery_tasks SET lease_expires_at = now() WHERE id = $1", task_id)
    again = await claim(client, alex_key)
    assert again is not None
    assert again["id"] == str(task_id)


async def test_an_agent_key_names_one_agent_without_spaces_and_needs_the_agent_scope(
    conn: asyncpg.Connection,
) -> None:
    created = await create_api_key(conn, name="bob", scopes=["agent"], agent="bob@example.com")
    assert created.api_key.agent == "bob@example.com"
    for scopes, agent in ((["crm"], "bob"), (["agent"], "bob smith"), (["agent"], "bob\n"), (["agent"], "")):
        with pytest.raises(InvalidInput):
            await create_api_key(conn, name="x", scopes=scopes, agent=agent)
    # the table holds the same rule, for keys written some other way
    with pytest.raises(asyncpg.CheckViolationError):
        await conn.execute(
            "INSERT INTO api_keys (name, prefix, secret_hash, scopes, agent) "
            "VALUES ('x', 'p1', '\\x00', '{crm}', 'bob')"
        )
