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


async def test_customer_events_are_recorded_once_and_feed_the_features(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection
) -> None:
    from datetime import UTC, datetime, timedelta

    from ml.queries import fetch_features, fetch_labels

    customer = (await client.post("/v1/customers", json=ALICE, headers=crm)).json()["id"]
    when = (datetime.now(UTC) - timedelta(days=3)).replace(microsecond=0)
    event = {"kind": "purchase", "occurred_at": when.isoformat(), "value": 99.5, "external_id": "order-7"}
    first = await client.post(f"/v1/customers/{customer}/events", json=event, headers=crm)
    assert first.status_code == 201, first.text
    assert first.json()["kind"] == "purchase"
    assert first.json()["value"] == 99.5
    resent = await client.post(f"/v1/customers/{customer}/events", json=event, headers=crm)
    assert resent.status_code == 200
    assert resent.json() == first.json()
    clash = await client.post(
        f"/v1/customers/{customer}/events", json={**event, "kind": "renewed"}, headers=crm
    )
    assert clash.status_code == 409

    keyed = {**crm, "Idempotency-Key": "evt-1"}
    churn = {"kind": "churned", "occurred_at": (when + timedelta(days=1)).isoformat()}
    one = await client.post(f"/v1/customers/{customer}/events", json=churn, headers=keyed)
    two = await client.post(f"/v1/customers/{customer}/events", json=churn, headers=keyed)
    assert one.status_code == two.status_code == 201
    assert two.headers["Idempotent-Replayed"] == "true"
    assert two.json() == one.json()
    other = await client.post(
        f"/v1/customers/{customer}/events", json={**churn, "kind": "renewed"}, headers=keyed
    )
    assert other.status_code == 422
    assert await conn.fetchval("SELECT count(*) FROM customer_events") == 2

    from uuid import UUID

    rows = await fetch_features(conn, as_of=datetime.now(UTC), customer_ids=[UUID(customer)])
    assert rows[0]["purchases_90d"] == 1
    labels = await fetch_labels(
        conn, cutoff=when - timedelta(days=1), horizon_days=90, customer_ids=[UUID(customer)]
    )
    assert labels[UUID(customer)][0] is True


async def test_customer_events_refuse_bad_input(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection
) -> None:
    import uuid
    from datetime import UTC, datetime, timedelta

    customer = (await client.post("/v1/customers", json=ALICE, headers=crm)).json()["id"]
    now = datetime.now(UTC)
    path = f"/v1/customers/{customer}/events"
    cases = [
        {"kind": "left", "occurred_at": now.isoformat()},
        {"kind": "purchase", "occurred_at": "2026-01-01T00:00:00"},  # no offset
        {"kind": "purchase", "occurred_at": (now + timedelta(days=2)).isoformat()},
        {"kind": "purchase", "occurred_at": now.isoformat(), "value": "12"},
        {"kind": "purchase"},
    ]
    for body in cases:
        response = await client.post(path, json=body, headers=crm)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    raw = '{"kind": "purchase", "occurred_at": "2026-01-01T00:00:00Z", "value": 1e999}'
    response = await client.post(path, content=raw, headers={**crm, "content-type": "application/json"})
    assert response.status_code in (400, 422)
    missing = await client.post(
        f"/v1/customers/{uuid.uuid4()}/events",
        json={"kind": "purchase", "occurred_at": now.isoformat()},
        headers=crm,
    )
    assert missing.status_code == 404
    await conn.execute(
        "UPDATE customers SET erased_at = now(), external_id = NULL WHERE id = $1", uuid.UUID(customer)
    )
    erased = await client.post(path, json={"kind": "purchase", "occurred_at": now.isoformat()}, headers=crm)
    assert erased.status_code == 410


async def test_a_customer_keeps_at_most_100_attributes_however_many_requests_send_them(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection
) -> None:
    for batch in range(2):
        sent = {f"k{batch}_{n}": "x" * 1000 for n in range(50)}
        stored = await client.post(
            "/v1/customers", json={"external_id": "crm-9", "attributes": sent}, headers=crm
        )
        assert stored.status_code in (200, 201), stored.text
    one_more = await client.post(
        "/v1/customers",
        json={"external_id": "crm-9", "name": "Nine", "attributes": {"extra": 1.0}},
        headers=crm,
    )
    assert one_more.status_code == 422, one_more.text
    assert one_more.headers["content-type"].startswith("application/problem+json")
    assert "101 attributes" in one_more.json()["detail"]
    assert one_more.json()["errors"][0]["field"] == "attributes"
    # nothing of the refused request was kept, and removing keys makes room
    row = await conn.fetchrow("SELECT name, attributes FROM customers WHERE external_id = 'crm-9'")
    assert row["name"] is None
    assert len(row["attributes"]) == 100
    swap = await client.post(
        "/v1/customers",
        json={"external_id": "crm-9", "attributes": {"k0_0": None, "extra": 1.0}},
        headers=crm,
    )
    assert swap.status_code == 200, swap.text
    too_long = await client.post(
        "/v1/customers", json={"external_id": "crm-9", "attributes": {"note": "x" * 1001}}, headers=crm
    )
    assert too_long.status_code == 422


async def test_customer_since_is_kept_and_attribute_versions_are_kept_with_their_time(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection
) -> None:
    created = await client.post(
        "/v1/customers",
        json={**ALICE, "customer_since": "2019-04-01T00:00:00Z"},
        headers=crm,
    )
    assert created.json()["customer_since"] == "2019-04-01T00:00:00Z"
    await client.post("/v1/customers", json={"external_id": "crm-1", "name": "Alice B."}, headers=crm)
    assert await conn.fetchval("SELECT count(*) FROM customer_attribute_history") == 0  # no attribute changed
    await client.post(
        "/v1/customers",
        json={"external_id": "crm-1", "value": 99.0, "attributes": {"plan": "free"}},
        headers=crm,
    )
    [version] = await conn.fetch("SELECT * FROM customer_attribute_history")
    current = await conn.fetchrow("SELECT attributes, value, attributes_since FROM customers")
    assert version["attributes"] == {"plan": "pro", "support_tickets_open": 2}
    assert version["value"] == 1200.5
    assert version["valid_to"] == current["attributes_since"]
    assert current["attributes"] == {"plan": "free", "support_tickets_open": 2}
    assert current["value"] == 99.0


async def test_the_crms_id_finds_reads_exports_and_erases_a_customer(
    client: Client, crm: dict[str, str]
) -> None:
    created = (await client.post("/v1/customers", json=ALICE, headers=crm)).json()
    await client.post(
        "/v1/customers", json={"external_id": "gid://shop/Customer/7", "name": "Bo"}, headers=crm
    )

    found = await client.get("/v1/customers", params={"external_id": "crm-1"}, headers=crm)
    assert found.status_code == 200, found.text
    assert found.json() == {"items": [created], "next_after": None}
    slashes = await client.get("/v1/customers", params={"external_id": "gid://shop/Customer/7"}, headers=crm)
    assert [c["name"] for c in slashes.json()["items"]] == ["Bo"]
    first = await client.get("/v1/customers", params={"limit": "1"}, headers=crm)
    second = await client.get(
        "/v1/customers", params={"limit": "1", "after": first.json()["next_after"]}, headers=crm
    )
    assert {first.json()["items"][0]["external_id"], second.json()["items"][0]["external_id"]} == {
        "crm-1",
        "gid://shop/Customer/7",
    }
    assert second.json()["next_after"] is None

    event = await client.post(
        "/v1/events",
        json={
            "customer_external_id": "crm-1",
            "kind": "purchase",
            "occurred_at": "2026-01-05T10:00:00Z",
            "value": 9.5,
        },
        headers=crm,
    )
    assert event.status_code == 201, event.text
    assert event.json()["customer_id"] == created["id"]

    exported = await client.get("/v1/privacy/export", params={"customer_external_id": "crm-1"}, headers=crm)
    assert exported.status_code == 200, exported.text
    assert exported.json()["data"]["customer"]["external_id"] == "crm-1"
    assert len(exported.json()["data"]["events"]) == 1

    erased = await client.post("/v1/privacy/erasures", json={"customer_external_id": "crm-1"}, headers=crm)
    assert erased.status_code == 200, erased.text
    assert erased.json()["customer_id"] == created["id"]
    # the CRM's id names nobody now; ours answers 410
    again = await client.post("/v1/privacy/erasures", json={"customer_external_id": "crm-1"}, headers=crm)
    assert again.status_code == 404
    by_ours = await client.post("/v1/privacy/erasures", json={"customer_id": created["id"]}, headers=crm)
    assert by_ours.status_code == 410
    assert (await client.get("/v1/customers", params={"external_id": "crm-1"}, headers=crm)).json()[
        "items"
    ] == []
