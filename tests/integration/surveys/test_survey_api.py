"""The CRM's survey endpoints on a real database: decisions, reasons, answers, events."""

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

Client = AsyncTestClient[Litestar]


async def make_customer(client: Client, crm: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {
        "external_id": f"c-{uuid.uuid4().hex[:8]}",
        "email": "ana@example.com",
        "phone": "+4915112345678",
        "time_zone": "Europe/Berlin",
        **fields,
    }
    response = await client.post("/v1/customers", json=body, headers=crm)
    assert response.status_code == 201, response.text
    return response.json()


def interaction(customer: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "customer_id": customer["id"],
        "touchpoint": "support_call",
        "occurred_at": datetime.now(UTC).isoformat(),
        **fields,
    }


async def test_interaction_queues_an_email_invitation_with_its_outbox_job(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection
) -> None:
    customer = await make_customer(client, crm)
    response = await client.post(
        "/v1/interactions", json=interaction(customer, external_id="call-1"), headers=crm
    )
    assert response.status_code == 201, response.text
    body = response.json()
    invitation = body["invitation"]
    assert body["interaction"]["touchpoint"] == "support_call"
    assert invitation["survey"] == "csat"
    assert invitation["status"] == "scheduled"  # support_call waits 15 minutes
    assert invitation["channel"] == "email"
    assert invitation["reason"].startswith("scheduled: email")
    assert "survey_url" not in invitation or invitation["survey_url"] is None
    job = await conn.fetchrow("SELECT topic, payload, run_after FROM outbox WHERE topic = 'invitation.send'")
    assert job["payload"] == {"invitation_id": invitation["id"]}
    assert job["run_after"] == datetime.fromisoformat(invitation["send_at"])
    # only a hash of the token is stored, never the token itself
    stored = await conn.fetchval("SELECT token_hash FROM invitations")
    assert len(stored) == 32


async def test_resending_an_interaction_returns_the_first_result(client: Client, crm: dict[str, str]) -> None:
    customer = await make_customer(client, crm)
    body = interaction(customer, external_id="call-9")
    first = (await client.post("/v1/interactions", json=body, headers=crm)).json()
    again = await client.post("/v1/interactions", json=body, headers=crm)
    assert again.status_code == 200
    assert again.json()["replayed"] is True
    assert again.json()["invitation"]["id"] == first["invitation"]["id"]


async def test_second_interaction_within_cooldown_is_suppressed_with_reason(
    client: Client, crm: dict[str, str]
) -> None:
    customer = await make_customer(client, crm)
    await client.post("/v1/interactions", json=interaction(customer), headers=crm)
    second = (
        await client.post("/v1/interactions", json=interaction(customer, touchpoint="delivery"), headers=crm)
    ).json()
    assert second["invitation"]["status"] == "suppressed"
    assert "cooldown" in second["invitation"]["reason"]


async def test_opt_out_moves_to_the_other_channel(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection
) -> None:
    customer = await make_customer(client, crm)
    await conn.execute(
        "INSERT INTO suppressions (channel, address, reason) VALUES ('email', 'ana@example.com', "
        "'unsubscribe')"
    )
    body = (
        await client.post(
            "/v1/interactions", json=interaction(customer, channel_preference="email"), headers=crm
        )
    ).json()
    assert body["invitation"]["channel"] == "sms"
    assert "opted out of email" in body["invitation"]["reason"]


async def test_customer_without_contact_details_is_suppressed(client: Client, crm: dict[str, str]) -> None:
    customer = await make_customer(client, crm, email=None, phone=None)
    body = (await client.post("/v1/interactions", json=interaction(customer), headers=crm)).json()
    assert body["invitation"]["status"] == "suppressed"
    assert "no email address" in body["invitation"]["reason"]


async def test_unknown_touchpoint_gets_the_default_nps_survey(client: Client, crm: dict[str, str]) -> None:
    customer = await make_customer(client, crm)
    body = (
        await client.post(
            "/v1/interactions", json=interaction(customer, touchpoint="store_visit"), headers=crm
        )
    ).json()
    assert body["invitation"]["survey"] == "nps"


async def test_web_invitation_returns_the_link_once_and_it_is_answerable(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection
) -> None:
    customer = await make_customer(client, crm)
    created = await client.post(
        "/v1/invitations",
        json={"customer_id": customer["id"], "survey": "nps", "channel": "web"},
        headers=crm,
    )
    assert created.status_code == 201, created.text
    invitation = created.json()
    assert invitation["status"] == "sent"
    assert invitation["survey_url"].startswith("http")
    token = invitation["survey_url"].rsplit("/", 1)[1]
    assert len(token) == 32
    stored = await conn.fetchval(
        "SELECT token_hash FROM invitations WHERE id = $1", uuid.UUID(invitation["id"])
    )
    assert stored == hashlib.sha256(token.encode()).digest()  # the link itself is kept nowhere

    # once: reading the invitation back never shows the link again
    read = await client.get(f"/v1/invitations/{invitation['id']}", headers=crm)
    assert read.status_code == 200, read.text
    assert "survey_url" not in read.json()
    assert token not in read.text

    # answerable: the link opens the survey and takes an answer
    page = await client.get(urlsplit(invitation["survey_url"]).path)
    assert page.status_code == 200
    answered = await client.post(f"/s/{token}", data={"score": "8", "comment": "ok"})
    assert answered.status_code == 200, answered.text
    answer = await conn.fetchrow(
        "SELECT score, comment FROM responses WHERE invitation_id = $1", uuid.UUID(invitation["id"])
    )
    assert (answer["score"], answer["comment"]) == (8, "ok")


async def test_invitation_by_external_customer_id(client: Client, crm: dict[str, str]) -> None:
    customer = await make_customer(client, crm)
    created = await client.post(
        "/v1/invitations",
        json={"customer_external_id": customer["external_id"], "survey": "ces"},
        headers=crm,
    )
    assert created.status_code == 201
    assert created.json()["customer_id"] == customer["id"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"survey": "nps"}, 422, "customer_id"),
        ({"customer_external_id": "nobody", "survey": "nps"}, 404, None),
        (
            {"customer_id": str(uuid.uuid4()), "survey": "nps", "customer_external_id": "x"},
            422,
            "customer_id",
        ),
        ({"customer_id": "CUSTOMER", "survey": "nps"}, 422, "customer_id"),
        ({"customer_id": "{id}", "survey": "telepathy"}, 422, "survey"),
        ({"customer_id": "{id}", "survey": "nps", "channel": "pigeon"}, 422, "channel"),
    ],
)
async def test_bad_invitations(
    client: Client,
    crm: dict[str, str],
    conn: asyncpg.Connection,
    body: dict[str, Any],
    status: int,
    field: str | None,
) -> None:
    customer = await make_customer(client, crm)
    body = {k: (customer["id"] if v == "{id}" else v) for k, v in body.items()}
    response = await client.post("/v1/invitations", json=body, headers=crm)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    if field:
        assert any(str(e.get("field", "")).startswith(field) for e in response.json()["errors"])
    assert await conn.fetchval("SELECT count(*) FROM invitations") == 0


async def test_api_response_is_stored_with_its_event(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection
) -> None:
    customer = await make_customer(client, crm)
    body = {
        "customer_id": customer["id"],
        "survey": "nps",
        "score": 3,
        "comment": "<b>slow</b> support",
        "contact_requested": True,
    }
    response = await client.post("/v1/responses", json=body, headers=crm)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["kind"] == "nps"
    assert answer["score"] == 3
    assert answer["comment"] == "<b>slow</b> support"  # stored as text; escaping is the renderer's job
    assert answer["channel"] == "api"
    event = await conn.fetchrow("SELECT payload, ordering_key FROM outbox WHERE topic = 'event'")
    assert event["payload"]["type"] == "response.created"
    assert event["payload"]["data"]["id"] == answer["id"]
    assert event["ordering_key"] == customer["id"]


async def test_api_response_to_an_invitation_marks_it_answered(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection
) -> None:
    customer = await make_customer(client, crm)
    invitation = (
        await client.post(
            "/v1/invitations",
            json={"customer_id": customer["id"], "survey": "csat", "channel": "web"},
            headers=crm,
        )
    ).json()
    response = await client.post(
        "/v1/responses", json={"invitation_id": invitation["id"], "score": 5}, headers=crm
    )
    assert response.status_code == 201, response.text
    assert response.json()["invitation_id"] == invitation["id"]
    status = await conn.fetchval("SELECT status FROM invitations WHERE id = $1", uuid.UUID(invitation["id"]))
    assert status == "answered"


@pytest.mark.parametrize(
    ("survey", "score"), [("nps", 11), ("csat", 0), ("csat", 6), ("ces", 8), ("nps", -1)]
)
async def test_out_of_range_scores_are_refused(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection, survey: str, score: int
) -> None:
    customer = await make_customer(client, crm)
    response = await client.post(
        "/v1/responses", json={"customer_id": customer["id"], "survey": survey, "score": score}, headers=crm
    )
    assert response.status_code == 422, response.text
    assert any(e.get("field") == "score" for e in response.json()["errors"])
    assert await conn.fetchval("SELECT count(*) FROM responses") == 0


async def test_oversized_comment_is_refused(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection
) -> None:
    customer = await make_customer(client, crm)
    response = await client.post(
        "/v1/responses",
        json={"customer_id": customer["id"], "survey": "nps", "score": 9, "comment": "x" * 5001},
        headers=crm,
    )
    assert response.status_code == 422
    assert await conn.fetchval("SELECT count(*) FROM responses") == 0


async def test_idempotency_key_replays_and_refuses_a_different_body(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection
) -> None:
    customer = await make_customer(client, crm)
    body = {"customer_id": customer["id"], "survey": "nps", "score": 9}
    headers = {**crm, "Idempotency-Key": "answer-1"}
    first = await client.post("/v1/responses", json=body, headers=headers)
    again = await client.post("/v1/responses", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    other = await client.post("/v1/responses", json={**body, "score": 2}, headers=headers)
    assert other.status_code == 422
    assert "different request" in other.json()["detail"]
    assert await conn.fetchval("SELECT count(*) FROM responses") == 1
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = 'event'") == 1


async def test_idempotency_keys_are_scoped_to_the_api_key(
    client: Client, crm: dict[str, str], make_key: Any, conn: asyncpg.Connection
) -> None:
    other_crm = await make_key("crm", name="other")
    customer = await make_customer(client, crm)
    body = {"customer_id": customer["id"], "survey": "nps", "score": 9}
    await client.post("/v1/responses", json=body, headers={**crm, "Idempotency-Key": "k"})
    second = await client.post("/v1/responses", json=body, headers={**other_crm, "Idempotency-Key": "k"})
    assert second.status_code == 201
    assert "idempotent-replayed" not in second.headers
    assert await conn.fetchval("SELECT count(*) FROM responses") == 2


async def test_answered_at_in_the_future_is_refused(client: Client, crm: dict[str, str]) -> None:
    customer = await make_customer(client, crm)
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    response = await client.post(
        "/v1/responses",
        json={"customer_id": customer["id"], "survey": "nps", "score": 9, "answered_at": later},
        headers=crm,
    )
    assert response.status_code == 422


async def test_list_surveys(client: Client, crm: dict[str, str]) -> None:
    surveys = (await client.get("/v1/surveys", headers=crm)).json()
    assert {s["key"]: s["kind"] for s in surveys} == {"ces": "ces", "csat": "csat", "nps": "nps"}
    assert all(s["cooldown_days"] == 30 for s in surveys)
