from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

Client = AsyncTestClient[Litestar]

ALICE: dict[str, Any] = {
    "external_id": "crm-1",
    "email": "Alice@Example.COM",
    "phone": "+49 151 12345678",
    "name": "Alice",
    "time_zone": "Europe/Berlin",
    "locale": "de",
    "value": 1200.5,
    "segment": "smb",
    "attributes": {"plan": "pro", "support_tickets_open": 2},
}


async def test_create_then_read_a_customer(client: Client, crm: dict[str, str]) -> None:
    created = await client.post("/v1/customers", json=ALICE, headers=crm)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["email"] == "Alice@example.com"  # domain lower-cased, local part kept
    assert body["phone"] == "+4915112345678"  # E.164
    assert body["attributes"] == {"plan": "pro", "support_tickets_open": 2}

    read = await client.get(f"/v1/customers/{body['id']}", headers=crm)
    assert read.status_code == 200
    assert read.json() == body


async def test_upsert_updates_only_what_was_sent(client: Client, crm: dict[str, str]) -> None:
    first = (await client.post("/v1/customers", json=ALICE, headers=crm)).json()
    update = {"external_id": "crm-1", "segment": "enterprise", "attributes": {"plan": None, "seats": 40}}
    second = await client.post("/v1/customers", json=update, headers=crm)
    assert second.status_code == 200
    body = second.json()
    assert body["id"] == first["id"]
    assert body["segment"] == "enterprise"
    assert body["email"] == first["email"]  # omitted: kept
    assert body["attributes"] == {"support_tickets_open": 2, "seats": 40}  # merged, null removes


async def test_unknown_customer_is_a_404_problem(client: Client, crm: dict[str, str]) -> None:
    response = await client.get("/v1/customers/6f1c1f1e-8a6b-4bd0-9a53-3f5b1d0c9a11", headers=crm)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "6f1c1f1e-8a6b-4bd0-9a53-3f5b1d0c9a11" in response.json()["detail"]


async def test_bad_contact_details_name_each_field_and_write_nothing(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection
) -> None:
    body = {**ALICE, "email": "not-an-email", "phone": "12", "time_zone": "Mars/Olympus"}
    response = await client.post("/v1/customers", json=body, headers=crm)
    assert response.status_code == 422
    problem = response.json()
    assert {error["field"] for error in problem["errors"]} == {"email", "phone", "time_zone"}
    assert await conn.fetchval("SELECT count(*) FROM customers") == 0
