"""Working the queue over HTTP: claim, lease, note, contact, resolve, reopen, and the history of it all."""

from datetime import timedelta
from uuid import UUID

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.recovery.queries import Q
from tests.conftest import KeyFactory
from tests.integration.recovery.conftest import events_of, insert_customer, insert_task

Client = AsyncTestClient[Litestar]
PROBLEM = "application/problem+json"


async def claim(client: Client, headers: dict[str, str], **body: object) -> dict[str, object] | None:
    response = await client.post("/v1/recovery/tasks/claim", json=body, headers=headers)
    if response.status_code == 204:
        return None
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_task_from_claim_to_resolution_with_its_whole_history(
    client: Client, make_key: KeyFactory, conn: asyncpg.Connection
) -> None:
    ana = await make_key("agent", name="ana-laptop", agent="ana")
    customer = await insert_customer(conn)
    task_id = await insert_task(conn, customer, priority=70, touchpoint="delivery")
    task = await claim(client, ana)
    assert task is not None
    assert task["id"] == str(task_id)
    token = task["lease_token"]
    assert task["lease_holder"] == "ana"

    base = f"/v1/recovery/tasks/{task_id}"
    note = await client.post(
        f"{base}/notes", json={"lease_token": token, "text": "called, no answer"}, headers=ana
    )
    assert note.status_code == 201, note.text
    attempt = await client.post(
        f"{base}/contact-attempts",
        json={"lease_token": token, "channel": "phone", "reached": True, "agent": "ana"},
        headers=ana,
    )
    assert attempt.status_code == 201, attempt.text
    assert attempt.json()["first_contact_at"] is not None
    resolved = await client.post(
        f"{base}/resolve",
        json={"lease_token": token, "outcome": "recovered", "root_cause": "late_delivery"},
        headers=ana,
    )
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert (body["status"], body["outcome"], body["root_cause"]) == ("resolved", "recovered", "late_delivery")
    assert body["lease_expires_at"] is None

    detail = (await client.get(base, headers=ana)).json()
    history = [(h["actor"], h["action"]) for h in detail["history"]]
    # the key acts for ana, whether or not the body says so
    assert history == [
        ("ana", "claimed"),
        ("ana", "note"),
        ("ana", "contact_attempt"),
        ("ana", "resolved"),
    ]
    assert detail["history"][1]["details"]["text"] == "called, no answer"
    assert detail["history"][2]["details"]["before_deadline"] is True
    assert all(h["details"].get("key") == "ana-laptop" for h in detail["history"])
    resolved_events = await events_of(conn, "task.resolved")
    assert [(e["id"], e["outcome"], e["root_cause"]) for e in resolved_events] == [
        (str(task_id), "recovered", "late_delivery")
    ]

    # the lease ended with the resolution: the old token is refused, with a reason
    late = await client.post(f"{base}/notes", json={"lease_token": token, "text": "again"}, headers=ana)
    assert late.status_code == 409
    assert late.headers["content-type"].startswith(PROBLEM)
    assert "resolved already" in late.json()["detail"]


async def test_claims_take_the_highest_priority_first_and_an_empty_queue_is_204(
    client: Client, agent: dict[str, str], conn: asyncpg.Connection
) -> None:
    low = await insert_task(conn, await insert_customer(conn), priority=10)
    high = await insert_task(conn, await insert_customer(conn), priority=90)
    await insert_task(conn, await insert_customer(conn), priority=99, control=True)  # never worked
    first, second = await claim(client, agent), await claim(client, agent)
    assert first
    assert second
    assert (first["id"], second["id"]) == (str(high), str(low))
    assert await claim(client, agent) is None


async def test_a_wrong_or_expired_lease_token_is_409_and_the_task_returns_to_the_queue(
    client: Client, agent: dict[str, str], make_key: KeyFactory, conn: asyncpg.Connection
) -> None:
    ana = await make_key("agent", name="ana-key", agent="ana")
    bob = await make_key("agent", name="bob-key", agent="bob")
    task_id = await insert_task(conn, await insert_customer(conn))
    first = await claim(client, ana)
    assert first is not None
    base = f"/v1/recovery/tasks/{task_id}"
    wrong = await client.post(
        f"{base}/notes",
        json={"lease_token": "00000000-0000-4000-8000-000000000000", "text": "x"},
        headers=agent,
    )
    assert wrong.status_code == 409
    assert "held by ana" in wrong.json()["detail"]
    assert await claim(client, agent) is None, "a live lease keeps others out"

    await conn.execute("UPDATE recovery_tasks SET lease_expires_at = now() WHERE id = $1", task_id)
    expired = await client.post(
        f"{base}/notes", json={"lease_token": first["lease_token"], "text": "x"}, headers=agent
    )
    assert expired.status_code == 409
    # the holder is told what happened to the task and what to do: it is in the queue again
    assert "expired" in expired.json()["detail"]
    assert expired.json()["detail"].endswith(" and the task went back to the queue; claim it again.")
    again = await claim(client, bob)
    assert again is not None
    assert again["id"] == str(task_id)
    assert again["lease_token"] != first["lease_token"]
    stale = await client.post(
        f"{base}/resolve",
        json={"lease_token": first["lease_token"], "outcome": "recovered", "root_cause": "x"},
        headers=agent,
    )
    assert stale.status_code == 409
    assert "held by bob" in stale.json()["detail"]
    assert await conn.fetchval("SELECT status FROM recovery_tasks WHERE id = $1", task_id) == "open"


async def test_extend_and_release(client: Client, agent: dict[str, str], conn: asyncpg.Connection) -> None:
    task_id = await insert_task(conn, await insert_customer(conn))
    task = await claim(client, agent, lease_seconds=60)
    assert task is not None
    base = f"/v1/recovery/tasks/{task_id}"
    extended = await client.post(
        f"{base}/lease", json={"lease_token": task["lease_token"], "lease_seconds": 3600}, headers=agent
    )
    assert extended.status_code == 200, extended.text
    assert extended.json()["lease_expires_at"] > task["lease_expires_at"]
    released = await client.post(f"{base}/release", json={"lease_token": task["lease_token"]}, headers=agent)
    assert released.status_code == 200
    assert released.json()["lease_holder"] is None
    again = await claim(client, agent)
    assert again is not None
    assert again["id"] == str(task_id)
    actions = await conn.fetch(
        "SELECT action FROM recovery_task_history WHERE task_id = $1 ORDER BY id", task_id
    )
    assert [a["action"] for a in actions] == ["claimed", "lease_extended", "released", "claimed"]


async def test_reopen_gives_a_fresh_promise_but_never_a_second_open_task(
    client: Client, agent: dict[str, str], conn: asyncpg.Connection
) -> None:
    customer = await insert_customer(conn)
    task_id = await insert_task(conn, customer)
    task = await claim(client, agent)
    assert task is not None
    base = f"/v1/recovery/tasks/{task_id}"
    await client.post(
        f"{base}/resolve",
        json={"lease_token": task["lease_token"], "outcome": "unreachable", "root_cause": "no_phone"},
        headers=agent,
    )
    reopened = await client.post(f"{base}/reopen", json={"reason": "customer called back"}, headers=agent)
    assert reopened.status_code == 200, reopened.text
    assert (reopened.json()["status"], reopened.json()["outcome"]) == ("open", None)
    details = await conn.fetchval("SELECT details FROM recovery_task_history WHERE action = 'reopened'")
    assert details["previous_outcome"] == "unreachable"
    assert details["reason"] == "customer called back"
    again = await client.post(f"{base}/reopen", json={"reason": "twice"}, headers=agent)
    assert again.status_code == 409

    # resolve it again, open a new task for the customer: the old one cannot come back beside it
    task = await claim(client, agent)
    assert task is not None
    await client.post(
        f"{base}/resolve",
        json={"lease_token": task["lease_token"], "outcome": "recovered", "root_cause": "refund"},
        headers=agent,
    )
    await insert_task(conn, customer)
    clash = await client.post(f"{base}/reopen", json={"reason": "oops"}, headers=agent)
    assert clash.status_code == 409
    assert "already has an open recovery task" in clash.json()["detail"]


async def test_listing_filters_and_pages_through_every_task_once(
    client: Client, agent: dict[str, str], conn: asyncpg.Connection
) -> None:
    ids = set()
    for k in range(23):
        ids.add(
            await insert_task(
                conn,
                await insert_customer(conn),
                priority=float(k % 5),  # ties: the id breaks them
                trigger="csat_low" if k % 2 else "nps_detractor",
            )
        )
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/recovery/tasks", params=params, headers=agent)).json()
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 23
    assert {UUID(s) for s in seen} == ids
    csat = (await client.get("/v1/recovery/tasks", params={"trigger": "csat_low"}, headers=agent)).json()
    assert len(csat["items"]) == 11
    assert {t["trigger"] for t in csat["items"]} == {"csat_low"}
    overdue_id = await insert_task(
        conn, await insert_customer(conn), deadline_at=await conn.fetchval("SELECT now() - interval '1 hour'")
    )
    overdue = (await client.get("/v1/recovery/tasks", params={"overdue": "true"}, headers=agent)).json()
    assert [t["id"] for t in overdue["items"]] == [str(overdue_id)]
    assert overdue["items"][0]["overdue"]

    bad = await client.get("/v1/recovery/tasks", params={"cursor": "not-ours"}, headers=agent)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith(PROBLEM)
    bad = await client.get("/v1/recovery/tasks", params={"trigger": "sad"}, headers=agent)
    assert bad.status_code == 422
    missing = await client.get("/v1/recovery/tasks/00000000-0000-4000-8000-000000000000", headers=agent)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith(PROBLEM)


async def test_the_queue_needs_the_agent_scope_and_strict_bodies(
    client: Client, crm: dict[str, str], agent: dict[str, str], conn: asyncpg.Connection
) -> None:
    assert (await client.get("/v1/recovery/tasks", headers=crm)).status_code == 403
    assert (await client.post("/v1/recovery/tasks/claim", json={}, headers=crm)).status_code == 403
    assert (await client.get("/v1/recovery/tasks")).status_code == 401
    task_id = await insert_task(conn, await insert_customer(conn))
    task = await claim(client, agent)
    assert task is not None
    wrong = await client.post(
        f"/v1/recovery/tasks/{task_id}/resolve",
        json={"lease_token": task["lease_token"], "outcome": "happy", "root_cause": "x"},
        headers=agent,
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "outcome"
    extra = await client.post("/v1/recovery/tasks/claim", json={"agent": "a", "x": 1}, headers=agent)
    assert extra.status_code == 422


async def test_the_claim_uses_the_claim_index(conn: asyncpg.Connection) -> None:
    customers = await conn.fetch(
        "INSERT INTO customers (external_id) SELECT 'bulk-' || g FROM generate_series(1, 5000) g RETURNING id"
    )
    ids = [c["id"] for c in customers]
    await conn.execute(
        """INSERT INTO recovery_tasks
                  (customer_id, trigger, priority, deadline_at, status, outcome, resolved_at)
           SELECT id, 'nps_detractor', random() * 100, now() + interval '1 day',
                  CASE WHEN n % 10 = 0 THEN 'open' ELSE 'resolved' END,
                  CASE WHEN n % 10 = 0 THEN NULL ELSE 'recovered' END,
                  CASE WHEN n % 10 = 0 THEN NULL ELSE now() END
             FROM unnest($1::uuid[]) WITH ORDINALITY AS u(id, n)""",
        ids,
    )
    await conn.execute("ANALYZE recovery_tasks")
    plan = await conn.fetchval(
        "EXPLAIN (FORMAT JSON) " + Q["claim_task"], "ana", timedelta(minutes=15), None, "ana"
    )
    assert "recovery_tasks_claim_idx" in str(plan), plan


LEASED_ACTIONS = {
    "notes": {"text": "called"},
    "contact-attempts": {"channel": "phone", "reached": True},
    "resolve": {"outcome": "recovered", "root_cause": "late_delivery"},
    "lease": {"lease_seconds": 600},
    "release": {},
    "assign": {"assignee": None},
}


@pytest.mark.parametrize("action", LEASED_ACTIONS)
async def test_an_expired_lease_allows_no_action_even_to_its_holder(
    action: str, client: Client, agent: dict[str, str], conn: asyncpg.Connection
) -> None:
    task_id = await insert_task(conn, await insert_customer(conn))
    claimed = await claim(client, agent)
    assert claimed is not None
    await conn.execute("UPDATE recovery_tasks SET lease_expires_at = now() WHERE id = $1", task_id)
    before = await conn.fetchrow("SELECT * FROM recovery_tasks WHERE id = $1", task_id)
    steps = await conn.fetchval("SELECT count(*) FROM recovery_task_history WHERE task_id = $1", task_id)

    body = {"lease_token": claimed["lease_token"], **LEASED_ACTIONS[action]}
    late = await client.post(f"/v1/recovery/tasks/{task_id}/{action}", json=body, headers=agent)
    assert late.status_code == 409, late.text
    assert "expired" in late.json()["detail"]
    assert await conn.fetchrow("SELECT * FROM recovery_tasks WHERE id = $1", task_id) == before
    assert (
        await conn.fetchval("SELECT count(*) FROM recovery_task_history WHERE task_id = $1", task_id) == steps
    )


async def test_assigning_without_the_lease_tells_an_agent_to_claim_first_and_answers_the_task(
    client: Client, make_key: KeyFactory, conn: asyncpg.Connection
) -> None:
    ana = await make_key("agent", name="ana-key", agent="ana")
    task_id = await insert_task(conn, await insert_customer(conn))
    path = f"/v1/recovery/tasks/{task_id}/assign"

    refused = await client.post(path, json={"assignee": "ana"}, headers=ana)
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"].startswith(PROBLEM)
    assert refused.json()["detail"] == (
        "Only the agent holding this task (send its lease_token) or an admin may assign it; claim it first."
    )

    held = await claim(client, ana)
    assert held is not None
    kept = await client.post(path, json={"assignee": "ana", "lease_token": held["lease_token"]}, headers=ana)
    assert kept.status_code == 200, kept.text
    # the answer is the task as it now is, not an empty body
    assert (kept.json()["id"], kept.json()["assignee"], kept.json()["lease_holder"]) == (
        str(task_id),
        "ana",
        "ana",
    )


@pytest.mark.parametrize(("rule", "promise"), [("kept", timedelta(hours=4)), ("gone", timedelta(hours=24))])
async def test_a_reopened_task_is_promised_its_rules_deadline_or_a_day_without_one(
    rule: str, promise: timedelta, client: Client, agent: dict[str, str], conn: asyncpg.Connection
) -> None:
    task_id = await insert_task(conn, await insert_customer(conn), trigger="contact_requested")
    if rule == "gone":
        # a task may outlive its trigger's rule (tasks keep the trigger as text)
        await conn.execute("DELETE FROM recovery_rules WHERE trigger = 'contact_requested'")
    task = await claim(client, agent)
    assert task is not None
    base = f"/v1/recovery/tasks/{task_id}"
    resolved = await client.post(
        f"{base}/resolve",
        json={"lease_token": task["lease_token"], "outcome": "recovered", "root_cause": "refund"},
        headers=agent,
    )
    assert resolved.status_code == 200, resolved.text
    reopened = await client.post(f"{base}/reopen", json={"reason": "called back"}, headers=agent)
    assert reopened.status_code == 200, reopened.text
    deadline = await conn.fetchval("SELECT deadline_at - now() FROM recovery_tasks WHERE id = $1", task_id)
    assert promise - timedelta(minutes=5) < deadline <= promise
