"""Idempotency-Key on every mutating API-key endpoint: declared in the spec, replayed, scoped, never split.

The answer paths of surveys have their own tests (tests/integration/surveys/), including a
409 while the first request is still running; these cover the other endpoint families.
"""

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import pytest
from litestar import Litestar, Request, Response, post
from litestar.di import NamedDependency
from litestar.testing import AsyncTestClient

from feedback_svc.apikeys.service import Principal
from feedback_svc.lib.auth import requires_scope
from feedback_svc.lib.errors import Conflict
from feedback_svc.lib.idempotency import HEADER, respond_idempotently
from tests.conftest import KeyFactory
from tests.integration.recovery.conftest import insert_customer, insert_task

Client = AsyncTestClient[Litestar]
SPEC = json.loads((Path(__file__).parents[2] / "openapi" / "openapi.json").read_text())
MUTATING = ("post", "put", "patch", "delete")
PUBLIC_URL = "https://93.184.215.14/hooks"  # an IP literal: public, and no DNS needed
PROBLEM = "application/problem+json"
REPLAYED = "idempotent-replayed"


def test_every_mutating_operation_with_an_api_key_declares_the_idempotency_key() -> None:
    """A new endpoint without `idempotency_key: IdempotencyKey = None` fails here."""
    descriptions = set()
    checked = 0
    for path, operations in SPEC["paths"].items():
        for method in MUTATING:
            operation = operations.get(method)
            if operation is None or not operation.get("security"):
                continue  # provider callbacks sign their own requests and dedupe by message id
            headers = [
                p for p in operation.get("parameters", []) if p["in"] == "header" and p["name"] == HEADER
            ]
            assert len(headers) == 1, f"{method} {path} does not declare {HEADER}"
            assert not headers[0]["required"]
            descriptions.add(headers[0]["description"])
            # the claim can be busy (409) and the key reused for another request (422)
            assert {"409", "422"} <= operation["responses"].keys(), f"{method} {path}"
            checked += 1
    assert checked >= 24
    assert len(descriptions) == 1, "one description, so clients read the same promise everywhere"


# -- one request of each family, sent twice with the same key ---------------------------------

Prepare = Callable[[Client, asyncpg.Connection, dict[str, str]], Awaitable[tuple[str, str, Any]]]
Vary = Callable[[str, Any], tuple[str, Any]]


@dataclass(frozen=True)
class Family:
    scope: str
    prepare: Prepare
    # each counts what the work makes: 1 after the first request, still 1 after its replay
    counts: tuple[str, ...]
    # another valid request to the same endpoint: (path, body) -> (path, body)
    vary: Vary


async def _leased_task(client: Client, conn: asyncpg.Connection, headers: dict[str, str]) -> tuple[str, str]:
    task_id = await insert_task(conn, await insert_customer(conn))
    claimed = await client.post("/v1/recovery/tasks/claim", json={}, headers=headers)
    assert claimed.status_code == 200, claimed.text
    return str(task_id), claimed.json()["lease_token"]


async def _note(client: Client, conn: asyncpg.Connection, headers: dict[str, str]) -> tuple[str, str, Any]:
    task_id, token = await _leased_task(client, conn, headers)
    return "POST", f"/v1/recovery/tasks/{task_id}/notes", {"lease_token": token, "text": "called"}


async def _contact(client: Client, conn: asyncpg.Connection, headers: dict[str, str]) -> tuple[str, str, Any]:
    task_id, token = await _leased_task(client, conn, headers)
    body = {"lease_token": token, "channel": "phone", "reached": False}
    return "POST", f"/v1/recovery/tasks/{task_id}/contact-attempts", body


async def _endpoint(
    client: Client, conn: asyncpg.Connection, headers: dict[str, str]
) -> tuple[str, str, Any]:
    return "POST", "/v1/webhook-endpoints", {"url": PUBLIC_URL, "event_types": ["response.created"]}


async def _training(
    client: Client, conn: asyncpg.Connection, headers: dict[str, str]
) -> tuple[str, str, Any]:
    return "POST", "/v1/models/training-runs?activate=true", None


async def _scores(client: Client, conn: asyncpg.Connection, headers: dict[str, str]) -> tuple[str, str, Any]:
    return "POST", "/v1/scores", {"items": [{"customer_id": str(await insert_customer(conn))}]}


async def _event(client: Client, conn: asyncpg.Connection, headers: dict[str, str]) -> tuple[str, str, Any]:
    customer = await insert_customer(conn)
    # no external_id: without the key, every resend would be another purchase
    body = {"kind": "purchase", "occurred_at": datetime.now(UTC).isoformat(), "value": 20.0}
    return "POST", f"/v1/customers/{customer}/events", body


def _changed(**fields: Any) -> Vary:
    return lambda path, body: (path, {**body, **fields})


FAMILIES = {
    "recovery note": Family(
        "agent",
        _note,
        ("SELECT count(*) FROM recovery_task_history WHERE action = 'note'",),
        _changed(text="no answer"),
    ),
    "contact attempt": Family(
        "agent",
        _contact,
        ("SELECT count(*) FROM recovery_task_history WHERE action = 'contact_attempt'",),
        _changed(reached=True),
    ),
    "webhook endpoint": Family(
        "admin", _endpoint, ("SELECT count(*) FROM webhook_endpoints",), _changed(description="other")
    ),
    "training run": Family(
        "admin",
        _training,
        ("SELECT count(*) FROM training_runs", "SELECT count(*) FROM outbox WHERE topic = 'model.train'"),
        # the query string is part of the request
        lambda path, body: (path.replace("activate=true", "activate=false"), body),
    ),
    "scores": Family(
        "crm",
        _scores,
        ("SELECT count(*) FROM scores",),
        lambda path, body: (path, {"items": [{**body["items"][0], "value": 99.0}]}),
    ),
    "customer event": Family("crm", _event, ("SELECT count(*) FROM customer_events",), _changed(value=30.0)),
}


async def send(client: Client, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    return await client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize("family", FAMILIES.values(), ids=FAMILIES.keys())
async def test_a_retry_replays_the_first_response_and_the_work_happens_once(
    family: Family, client: Client, conn: asyncpg.Connection, make_key: KeyFactory
) -> None:
    key = await make_key(family.scope, name=f"{family.scope}-key")
    method, path, body = await family.prepare(client, conn, key)
    audited = await conn.fetchval("SELECT count(*) FROM audit_log")
    headers = {**key, HEADER: f"retry-{uuid4()}"}

    first = await send(client, method, path, body, headers)
    assert 200 <= first.status_code < 300, first.text
    assert "idempotent-replayed" not in first.headers
    again = await send(client, method, path, body, headers)

    assert again.status_code == first.status_code
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    for count in family.counts:
        assert await conn.fetchval(count) == 1, count
    # agent and admin actions are audited once; the replay did nothing, so it is not an action
    expected = audited + (0 if family.scope == "crm" else 1)
    assert await conn.fetchval("SELECT count(*) FROM audit_log") == expected


@pytest.mark.parametrize("family", FAMILIES.values(), ids=FAMILIES.keys())
async def test_the_same_key_from_another_api_key_runs_on_its_own(
    family: Family, client: Client, conn: asyncpg.Connection, make_key: KeyFactory
) -> None:
    one, two = await make_key(family.scope, name="one"), await make_key(family.scope, name="two")
    method, path, body = await family.prepare(client, conn, one)
    first = await send(client, method, path, body, {**one, HEADER: "shared"})
    assert 200 <= first.status_code < 300, first.text
    if family.prepare in (
        _note,
        _contact,
    ):  # the lease is the first key's; the second takes a task of its own
        method, path, body = await family.prepare(client, conn, two)
    second = await send(client, method, path, body, {**two, HEADER: "shared"})
    assert 200 <= second.status_code < 300, second.text
    assert "idempotent-replayed" not in second.headers
    # one training at a time: the second request ran, and answered with the first one's run
    expected = 1 if family.prepare is _training else 2
    for count in family.counts:
        assert await conn.fetchval(count) == expected, count


@pytest.mark.parametrize("family", FAMILIES.values(), ids=FAMILIES.keys())
async def test_the_same_key_for_another_request_is_422_and_runs_nothing(
    family: Family, client: Client, conn: asyncpg.Connection, make_key: KeyFactory
) -> None:
    key = await make_key(family.scope)
    method, path, body = await family.prepare(client, conn, key)
    headers = {**key, HEADER: "once"}
    assert 200 <= (await send(client, method, path, body, headers)).status_code < 300
    other = await send(client, method, *family.vary(path, body), headers)
    assert other.status_code == 422, other.text
    assert other.headers["content-type"].startswith(PROBLEM)
    assert "different request" in other.json()["detail"]
    assert other.json()["errors"] == [
        {"field": HEADER, "message": "reused with a different request", "source": "header"}
    ]
    for count in family.counts:
        assert await conn.fetchval(count) == 1, count


# -- 204s, errors, and erasure ----------------------------------------------------------------


async def test_an_empty_claim_replays_as_204_even_once_there_is_work(
    client: Client, conn: asyncpg.Connection, make_key: KeyFactory
) -> None:
    agent = {**await make_key("agent"), HEADER: "claim-1"}
    empty = await client.post("/v1/recovery/tasks/claim", json={}, headers=agent)
    assert (empty.status_code, empty.content) == (204, b"")
    task_id = await insert_task(conn, await insert_customer(conn))

    again = await client.post("/v1/recovery/tasks/claim", json={}, headers=agent)
    assert (again.status_code, again.content) == (204, b"")
    assert again.headers["idempotent-replayed"] == "true"
    assert await conn.fetchval("SELECT lease_holder FROM recovery_tasks WHERE id = $1", task_id) is None


async def test_a_webhook_delete_replays_as_204_where_a_plain_retry_is_404(
    client: Client, conn: asyncpg.Connection, make_key: KeyFactory
) -> None:
    admin = await make_key("admin")
    created = await client.post(
        "/v1/webhook-endpoints", json={"url": PUBLIC_URL, "event_types": ["task.created"]}, headers=admin
    )
    path = f"/v1/webhook-endpoints/{created.json()['id']}"
    first = await client.delete(path, headers={**admin, HEADER: "delete-1"})
    again = await client.delete(path, headers={**admin, HEADER: "delete-1"})
    assert (first.status_code, first.content) == (again.status_code, again.content) == (204, b"")
    assert again.headers["idempotent-replayed"] == "true"
    assert (await client.delete(path, headers=admin)).status_code == 404
    assert await conn.fetchval("SELECT count(*) FROM webhook_endpoints") == 0


async def test_an_error_keeps_nothing_so_a_retry_after_the_fix_runs(
    client: Client, conn: asyncpg.Connection, crm: dict[str, str]
) -> None:
    customer = uuid4()
    body = {"kind": "renewed", "occurred_at": datetime.now(UTC).isoformat()}
    headers = {**crm, HEADER: "event-1"}
    missing = await client.post(f"/v1/customers/{customer}/events", json=body, headers=headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith(PROBLEM)
    assert await conn.fetchval("SELECT count(*) FROM idempotency_keys") == 0

    await conn.execute("INSERT INTO customers (id, external_id) VALUES ($1, 'late')", customer)
    stored = await client.post(f"/v1/customers/{customer}/events", json=body, headers=headers)
    assert stored.status_code == 201, stored.text
    assert "idempotent-replayed" not in stored.headers
    assert await conn.fetchval("SELECT count(*) FROM customer_events WHERE customer_id = $1", customer) == 1


async def test_the_webhook_secret_is_replayed_to_the_client_that_missed_it(
    client: Client, conn: asyncpg.Connection, make_key: KeyFactory
) -> None:
    headers = {**await make_key("admin"), HEADER: "create-1"}
    body = {"url": PUBLIC_URL, "event_types": ["task.created"]}
    first = await client.post("/v1/webhook-endpoints", json=body, headers=headers)
    again = await client.post("/v1/webhook-endpoints", json=body, headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["secret"] == first.json()["secret"]
    assert await conn.fetchval("SELECT secret FROM webhook_endpoints") == first.json()["secret"]


async def test_training_run_replay_keeps_its_location(client: Client, make_key: KeyFactory) -> None:
    headers = {**await make_key("admin"), HEADER: "train-1"}
    first = await client.post("/v1/models/training-runs", headers=headers)
    again = await client.post("/v1/models/training-runs", headers=headers)
    assert first.status_code == again.status_code == 202
    location = f"/v1/models/training-runs/{first.json()['id']}"
    assert first.headers["location"] == again.headers["location"] == location


async def test_erasure_forgets_replies_about_the_customer_but_keeps_its_own(
    client: Client, conn: asyncpg.Connection, crm: dict[str, str]
) -> None:
    email, phone = "ana.lopez@example.com", "+4915112345678"
    upsert = {"external_id": "crm-77", "email": email, "phone": phone}
    created = await client.post("/v1/customers", json=upsert, headers={**crm, HEADER: "upsert-1"})
    assert created.status_code == 201, created.text
    path = f"/v1/customers/{created.json()['id']}"

    erased = await client.delete(path, headers={**crm, HEADER: "erase-1"})
    assert erased.status_code == 200, erased.text
    again = await client.delete(path, headers={**crm, HEADER: "erase-1"})
    assert (again.status_code, again.content) == (200, erased.content)
    assert again.headers["idempotent-replayed"] == "true"

    kept = await conn.fetch("SELECT key, response_body FROM idempotency_keys")
    assert [row["key"] for row in kept] == ["erase-1"]  # the upsert's reply quoted the email
    reply = bytes(kept[0]["response_body"]).decode()
    for personal in (email, phone, "crm-77"):
        assert personal not in reply
    assert set(json.loads(reply)) == {"customer_id", "erased_at"}
    # without the key, a second erasure is told the customer is gone
    assert (await client.delete(path, headers=crm)).status_code == 410


@pytest.mark.parametrize("bad", ["two words", "x" * 256, "é"])
async def test_a_malformed_key_is_422_naming_the_header(
    bad: str, client: Client, conn: asyncpg.Connection, crm: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/customers", json={"external_id": "c-1"}, headers={**crm, HEADER: bad.encode()}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["errors"] == [
        {"field": HEADER, "message": "1-255 visible ASCII characters", "source": "header"}
    ]
    assert HEADER in response.json()["detail"]
    assert await conn.fetchval("SELECT count(*) FROM customers") == 0


async def test_a_retry_replays_for_24_hours_and_runs_anew_after(
    client: Client, conn: asyncpg.Connection, crm: dict[str, str]
) -> None:
    customer = await insert_customer(conn)
    body = {"kind": "purchase", "occurred_at": datetime.now(UTC).isoformat(), "value": 20.0}
    headers = {**crm, HEADER: "purchase-1"}
    path = f"/v1/customers/{customer}/events"
    first = await client.post(path, json=body, headers=headers)
    assert first.status_code == 201, first.text

    async def age(by: str) -> None:
        """As if the first request had been `by` ago."""
        await conn.execute(
            f"UPDATE idempotency_keys SET created_at = created_at - interval '{by}', "
            f"expires_at = expires_at - interval '{by}'"
        )

    await age("23 hours 50 minutes")
    late = await client.post(path, json=body, headers=headers)
    assert late.headers.get("idempotent-replayed") == "true"
    assert late.content == first.content
    assert late.headers["content-type"] == first.headers["content-type"] == "application/json"
    assert await conn.fetchval("SELECT count(*) FROM customer_events") == 1

    await age("20 minutes")  # 24 h 10 min: the key is free again, and this is a new purchase
    anew = await client.post(path, json=body, headers=headers)
    assert anew.status_code == 201, anew.text
    assert "idempotent-replayed" not in anew.headers
    assert await conn.fetchval("SELECT count(*) FROM customer_events") == 2


async def test_a_request_without_a_key_is_never_called_a_replay(
    client: Client, conn: asyncpg.Connection, crm: dict[str, str]
) -> None:
    for n in range(2):
        created = await client.post("/v1/customers", json={"external_id": f"c-{n}"}, headers=crm)
        assert created.status_code == 201, created.text
        assert REPLAYED not in created.headers
    assert await conn.fetchval("SELECT count(*) FROM idempotency_keys") == 0


async def test_a_one_statement_write_without_a_key_runs_alone_and_is_no_replay(
    app: Litestar, conn: asyncpg.Connection, crm: dict[str, str]
) -> None:
    """A handler that says its work is one statement gets no BEGIN/COMMIT around it (the
    statement commits itself; the two round trips would cost as much as the write), and its
    fresh reply is not marked as a replay."""
    seen: list[bool] = []

    @post("/v1/one-statement", status_code=201, opt=requires_scope("crm"))
    async def one_statement(
        request: Request[Principal, Any, Any], pool: NamedDependency[asyncpg.Pool]
    ) -> Response[Any]:
        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            seen.append(conn.is_in_transaction())
            await conn.execute("INSERT INTO customers (external_id) VALUES ('one-statement')")
            return 201, b'{"written": true}'

        return await respond_idempotently(request, pool, None, work, one_statement=True)

    app.register(one_statement)
    async with AsyncTestClient(app=app) as client:
        response = await client.post("/v1/one-statement", headers=crm)
    assert response.status_code == 201, response.text
    assert response.json() == {"written": True}
    assert REPLAYED not in response.headers
    assert seen == [False]
    assert await conn.fetchval("SELECT count(*) FROM customers WHERE external_id = 'one-statement'") == 1


async def test_work_that_fails_half_way_without_a_key_keeps_nothing(
    app: Litestar, conn: asyncpg.Connection, crm: dict[str, str]
) -> None:
    """Without a key the work still runs in one transaction, unless the handler says it is one
    statement: its first write is undone when its second step fails."""

    @post("/v1/half-way", status_code=201, opt=requires_scope("crm"))
    async def half_way(
        request: Request[Principal, Any, Any], pool: NamedDependency[asyncpg.Pool]
    ) -> Response[Any]:
        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            await conn.execute("INSERT INTO customers (external_id) VALUES ('half-way')")
            raise Conflict("the second step failed")

        return await respond_idempotently(request, pool, None, work)

    app.register(half_way)
    async with AsyncTestClient(app=app) as client:
        response = await client.post("/v1/half-way", headers=crm)
    assert response.status_code == 409, response.text
    assert await conn.fetchval("SELECT count(*) FROM customers") == 0
