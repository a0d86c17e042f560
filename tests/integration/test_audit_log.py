import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import KeyFactory
from tests.integration.recovery.conftest import insert_customer, insert_task


async def test_mutations_by_admin_keys_are_audited_and_crm_writes_are_not(
    client: AsyncTestClient[Litestar], conn: asyncpg.Connection, make_key: KeyFactory, crm: dict[str, str]
) -> None:
    admin = await make_key("admin", name="ops-alice")
    created = await client.post("/v1/customers", json={"external_id": "c-1"}, headers=admin)
    assert created.status_code == 201
    assert (await client.post("/v1/customers", json={"external_id": "c-2"}, headers=crm)).status_code == 201
    # a refused mutation changed nothing, so there is nothing to audit
    assert (await client.post("/v1/customers", json={"external_id": 5}, headers=admin)).status_code == 422

    page = await client.get("/v1/audit-log", headers=admin)
    assert page.status_code == 200
    entries = page.json()["entries"]
    assert [e["action"] for e in entries] == ["POST /v1/customers"]
    entry = entries[0]
    assert entry["actor_type"] == "api_key"
    assert entry["details"]["key_name"] == "ops-alice"
    assert entry["request_id"] == created.headers["x-request-id"]
    assert await conn.fetchval("SELECT count(*) FROM audit_log") == 1


async def test_audit_log_is_for_admins_and_pages_newest_first(
    client: AsyncTestClient[Litestar], make_key: KeyFactory
) -> None:
    admin = await make_key("admin")
    assert (await client.get("/v1/audit-log", headers=await make_key("agent"))).status_code == 403
    for n in range(5):
        await client.post("/v1/customers", json={"external_id": f"c-{n}"}, headers=admin)

    first = (await client.get("/v1/audit-log?limit=3", headers=admin)).json()
    assert len(first["entries"]) == 3
    second = (await client.get(f"/v1/audit-log?limit=3&before={first['next_before']}", headers=admin)).json()
    assert len(second["entries"]) == 2
    assert second["next_before"] is None
    ids = [e["id"] for e in first["entries"] + second["entries"]]
    assert ids == sorted(ids, reverse=True)

    filtered = await client.get("/v1/audit-log?action=DELETE", headers=admin)
    assert filtered.json()["entries"] == []
    bad = await client.get("/v1/audit-log?actor_type=robot", headers=admin)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")


async def test_an_action_on_one_thing_is_named_by_its_route_and_targets_that_thing(
    client: AsyncTestClient[Litestar], conn: asyncpg.Connection, make_key: KeyFactory
) -> None:
    admin = await make_key("admin", name="ops-bob")
    task_id = await insert_task(conn, await insert_customer(conn))
    claimed = await client.post("/v1/recovery/tasks/claim", json={}, headers=admin)
    assert claimed.status_code == 200, claimed.text
    noted = await client.post(
        f"/v1/recovery/tasks/{task_id}/notes",
        json={"lease_token": claimed.json()["lease_token"], "text": "called"},
        headers=admin,
    )
    assert noted.status_code == 201, noted.text

    entries = (await client.get("/v1/audit-log?limit=10", headers=admin)).json()["entries"]
    note = entries[0]
    # the route's template, not the path: every note on every task is one action to filter on
    assert note["action"] == "POST /v1/recovery/tasks/{task_id}/notes"
    assert (note["target_type"], note["target_id"]) == ("recovery", str(task_id))
    assert note["details"] == {"key_name": "ops-bob", "path_params": {"task_id": str(task_id)}, "status": 201}
    # a route without a path parameter has no single target
    claim = entries[1]
    assert (claim["action"], claim["target_type"], claim["target_id"]) == (
        "POST /v1/recovery/tasks/claim",
        "recovery",
        None,
    )
