"""The API answer told step by step: what `record_api_response` does when its one statement writes
nothing. Usually that is to name the error; after a race (the invitation or customer appearing
between the statement and the steps) it stores the answer after all, the same answer."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.lib.errors import InvalidInput
from feedback_svc.outbox.events import EVENT_TOPIC
from feedback_svc.surveys import service
from feedback_svc.surveys.schemas import ResponseCreate
from tests.integration.surveys.test_pages import invited
from tests.integration.surveys.test_survey_api import make_customer

Client = AsyncTestClient[Litestar]


@pytest.fixture
def statement_finds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one statement writes nothing, as when it ran just before a concurrent change."""

    async def nothing(*args: Any, **kwargs: Any) -> None:
        return None

    monkeypatch.setattr(service, "_record_api_response_at_once", nothing)


def field_errors(reply: Any) -> list[tuple[str, str]]:
    return [(error["field"], error["message"]) for error in reply.json()["errors"]]


async def stored_event(conn: asyncpg.Connection) -> tuple[dict[str, Any], str]:
    (event,) = await conn.fetch("SELECT payload, dedupe_key FROM outbox WHERE topic = $1", EVENT_TOPIC)
    return event["payload"], event["dedupe_key"]


@pytest.mark.usefixtures("statement_finds_nothing")
async def test_the_steps_store_a_customers_answer_and_its_event(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection
) -> None:
    customer = await make_customer(client, crm)
    reply = await client.post(
        "/v1/responses",
        json={
            "customer_external_id": customer["external_id"],
            "survey": "ces",
            "score": 6,
            "comment": " easy \x07",
            "contact_requested": True,
        },
        headers=crm,
    )
    assert reply.status_code == 201, reply.text
    answer = reply.json()
    assert (answer["customer_id"], answer["survey"], answer["kind"]) == (customer["id"], "ces", "ces")
    assert (answer["score"], answer["comment"], answer["contact_requested"]) == (6, "easy", True)
    row = await conn.fetchrow("SELECT customer_id, score, comment, contact_requested FROM responses")
    assert (str(row["customer_id"]), row["score"], row["comment"], row["contact_requested"]) == (
        customer["id"],
        6,
        "easy",
        True,
    )
    # the dedupe key as the one-statement path writes it, so a retried event is still one event
    updated_at = datetime.fromisoformat(answer["updated_at"]).isoformat()
    assert await stored_event(conn) == (
        {"type": "response.created", "data": answer},
        f"response.created:{answer['id']}:{updated_at}",
    )


@pytest.mark.usefixtures("statement_finds_nothing")
async def test_the_steps_answer_an_open_invitation_through_the_api_channel(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection
) -> None:
    invitation_id, customer = await invited(client, crm)
    reply = await client.post(
        "/v1/responses", json={"invitation_id": invitation_id, "score": 9, "comment": "fine"}, headers=crm
    )
    assert reply.status_code == 201, reply.text
    answer = reply.json()
    assert (answer["invitation_id"], answer["customer_id"]) == (invitation_id, customer["id"])
    assert (answer["score"], answer["comment"], answer["channel"]) == (9, "fine", "api")
    status = await conn.fetchval("SELECT status FROM invitations WHERE id = $1", uuid.UUID(invitation_id))
    assert status == "answered"
    assert await conn.fetchval("SELECT channel FROM responses") == "api"


async def test_an_unknown_invitation_is_404(client: Client, crm: dict[str, str]) -> None:
    missing = uuid.uuid4()
    reply = await client.post("/v1/responses", json={"invitation_id": str(missing), "score": 9}, headers=crm)
    assert reply.status_code == 404, reply.text
    assert str(missing) in reply.json()["detail"]


async def test_the_refusals_name_their_field(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection
) -> None:
    customer = await make_customer(client, crm)
    body = {"customer_id": customer["id"], "survey": "nps", "score": 9}
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    cases = [
        ({**body, "answered_at": later}, ("answered_at", "in the future")),
        ({**body, "survey": "no-such-survey"}, ("survey", "unknown")),
        ({**body, "survey": "csat", "score": 6}, ("score", "must be between 1 and 5 for csat")),
    ]
    for request, error in cases:
        reply = await client.post("/v1/responses", json=request, headers=crm)
        assert reply.status_code == 422, reply.text
        assert error in field_errors(reply), reply.text
    assert await conn.fetchval("SELECT count(*) FROM responses") == 0


async def test_both_customer_ids_at_once_are_refused_and_nothing_is_stored(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection
) -> None:
    customer = await make_customer(client, crm)
    reply = await client.post(
        "/v1/responses",
        json={
            "customer_id": customer["id"],
            "customer_external_id": customer["external_id"],
            "survey": "nps",
            "score": 9,
        },
        headers=crm,
    )
    assert reply.status_code == 422, reply.text
    assert await conn.fetchval("SELECT count(*) FROM responses") == 0
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = $1", EVENT_TOPIC) == 0


async def test_answered_at_up_to_five_minutes_ahead_is_taken_and_later_is_not(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection
) -> None:
    """Clocks differ a little: the limit itself is still accepted."""
    customer = await make_customer(client, crm)
    now = datetime.now(UTC)
    limit = now + timedelta(minutes=5)
    ref = {"customer_id": uuid.UUID(customer["id"]), "survey": "nps", "score": 9}
    async with conn.transaction():
        answer = await service.record_api_response(conn, ResponseCreate(**ref, answered_at=limit), now=now)
    assert answer.answered_at == limit
    with pytest.raises(InvalidInput):
        async with conn.transaction():
            await service.record_api_response(
                conn, ResponseCreate(**ref, answered_at=limit + timedelta(microseconds=1)), now=now
            )


def test_a_comment_over_the_limit_after_cleaning_names_its_field() -> None:
    """The API's schema stops longer comments first; SMS and page answers come here with theirs."""
    assert service.clean_comment(" " + "x" * 5000 + "\x07 ") == "x" * 5000
    with pytest.raises(InvalidInput) as refused:
        service.clean_comment("x" * 5001)
    assert refused.value.errors == [{"field": "comment", "message": "at most 5000 characters"}]
