"""POST /v1/responses with an Idempotency-Key in one statement: the same reply, key and event as
the step-by-step path, nothing written on a failure, and duplicates still replayed or refused."""

import asyncio
import time
import uuid
from datetime import UTC, datetime

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.lib.idempotency import KEY_CONSTRAINT, KeyToClaim
from feedback_svc.outbox.events import EVENT_TOPIC
from feedback_svc.surveys import keyed_answers
from feedback_svc.surveys.schemas import ResponseCreate, SurveyResponse
from tests.integration.surveys.test_answer_statements import COLUMNS, events, expected_event
from tests.integration.surveys.test_pages import invited

Client = AsyncTestClient[Litestar]


async def new_customer(client: Client, crm: dict[str, str], external_id: str) -> str:
    reply = await client.post("/v1/customers", json={"external_id": external_id}, headers=crm)
    assert reply.status_code in (200, 201), reply.text
    return str(reply.json()["id"])


@pytest.mark.parametrize(
    ("comment", "answered_at"),
    [
        ('Fine "quoted", back\\slash,\nnew line\tand tab, é€😀 </script>', None),
        (None, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ],
)
async def test_the_reply_is_byte_for_byte_what_msgspec_writes_and_is_replayed(
    client: Client,
    crm: dict[str, str],
    conn: asyncpg.Connection,
    comment: str | None,
    answered_at: datetime | None,
) -> None:
    customer = await new_customer(client, crm, "keyed-1")
    body: dict[str, object] = {"customer_id": customer, "survey": "nps", "score": 10, "comment": comment}
    if answered_at is not None:
        body["answered_at"] = answered_at.isoformat()
    headers = {**crm, "Idempotency-Key": "keyed-reply"}
    first = await client.post("/v1/responses", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM responses")
    response = msgspec.convert({**dict(row), "survey": "nps"}, SurveyResponse)
    assert first.content == msgspec.json.encode(response)
    assert response.comment == (comment.strip() if comment else None)
    stored = await conn.fetchrow("SELECT response_status, response_body FROM idempotency_keys")
    assert (stored["response_status"], stored["response_body"]) == (201, first.content)
    (event,) = await events(conn)
    assert (event["payload"], event["dedupe_key"]) == expected_event("response.created", row, "nps")

    again = await client.post("/v1/responses", json=body, headers=headers)
    assert (again.status_code, again.content) == (201, first.content)
    assert again.headers["idempotent-replayed"] == "true"
    other = await client.post("/v1/responses", json={**body, "score": 1}, headers=headers)
    assert other.status_code == 422, other.text
    assert await conn.fetchval("SELECT count(*) FROM responses") == 1
    assert len(await events(conn)) == 1


async def test_a_refused_event_keeps_neither_answer_nor_key_and_the_retry_runs(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection
) -> None:
    customer = await new_customer(client, crm, "keyed-2")
    await conn.execute(
        "CREATE FUNCTION refuse_events() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'outbox refused'; END $$; "
        "CREATE TRIGGER refuse_events BEFORE INSERT ON outbox FOR EACH ROW "
        f"WHEN (NEW.topic = '{EVENT_TOPIC}') EXECUTE FUNCTION refuse_events()"
    )
    body = {"customer_id": customer, "survey": "csat", "score": 1}
    headers = {**crm, "Idempotency-Key": "keyed-refused"}
    failed = await client.post("/v1/responses", json=body, headers=headers)
    assert failed.status_code == 500, failed.text
    assert await conn.fetchval("SELECT count(*) FROM responses") == 0
    assert await conn.fetchval("SELECT count(*) FROM idempotency_keys") == 0

    await conn.execute("DROP TRIGGER refuse_events ON outbox")
    retried = await client.post("/v1/responses", json=body, headers=headers)
    assert retried.status_code == 201, retried.text
    assert await conn.fetchval("SELECT count(*) FROM responses") == 1
    assert len(await events(conn)) == 1


async def test_errors_are_told_as_before_and_keep_nothing(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection
) -> None:
    customer = await new_customer(client, crm, "keyed-3")
    headers = {**crm, "Idempotency-Key": "keyed-errors"}
    out_of_scale = await client.post(
        "/v1/responses", json={"customer_id": customer, "survey": "csat", "score": 9}, headers=headers
    )
    assert out_of_scale.status_code == 422, out_of_scale.text
    unknown = await client.post(
        "/v1/responses", json={"customer_external_id": "nobody", "survey": "nps", "score": 9}, headers=headers
    )
    assert unknown.status_code == 404, unknown.text
    assert await conn.fetchval("SELECT count(*) FROM idempotency_keys") == 0
    assert await conn.fetchval("SELECT count(*) FROM responses") == 0


async def test_concurrent_duplicates_store_one_answer_and_get_its_reply_or_409(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection
) -> None:
    customer = await new_customer(client, crm, "keyed-4")
    body = {"customer_id": customer, "survey": "nps", "score": 7}
    headers = {**crm, "Idempotency-Key": "keyed-race"}
    replies = await asyncio.gather(
        *(client.post("/v1/responses", json=body, headers=headers) for _ in range(8))
    )
    done = [reply for reply in replies if reply.status_code == 201]
    assert done, [reply.text for reply in replies]
    assert {reply.status_code for reply in replies} <= {201, 409}
    assert len({reply.content for reply in done}) == 1
    assert sum("idempotent-replayed" not in reply.headers for reply in done) == 1
    assert await conn.fetchval("SELECT count(*) FROM responses") == 1
    assert len(await events(conn)) == 1


async def test_a_key_inserted_by_a_running_request_is_409_after_the_short_wait(
    client: Client, crm: dict[str, str], database_url: str, conn: asyncpg.Connection
) -> None:
    """The running request's key is not committed yet: the insert waits for it, briefly."""
    customer = await new_customer(client, crm, "keyed-5")
    key_id = await conn.fetchval("SELECT id FROM api_keys WHERE name = 'crm'")
    holder = await asyncpg.connect(database_url)
    try:
        running = holder.transaction()
        await running.start()
        await holder.execute(
            "INSERT INTO idempotency_keys (api_key_id, key, method, path, request_hash, expires_at) "
            "VALUES ($1, 'keyed-held', 'POST', '/v1/responses', '\\x00', now() + interval '1 hour')",
            key_id,
        )
        started = time.monotonic()
        busy = await client.post(
            "/v1/responses",
            json={"customer_id": customer, "survey": "nps", "score": 8},
            headers={**crm, "Idempotency-Key": "keyed-held"},
        )
        waited = time.monotonic() - started
        await running.rollback()  # the running request failed: its key goes
    finally:
        await holder.close()
    assert busy.status_code == 409, busy.text
    assert busy.headers["retry-after"] == "1"
    assert 0.15 < waited < 5
    assert await conn.fetchval("SELECT count(*) FROM responses") == 0


async def test_an_expired_key_not_yet_purged_runs_anew(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection
) -> None:
    customer = await new_customer(client, crm, "keyed-6")
    body = {"customer_id": customer, "survey": "nps", "score": 6}
    headers = {**crm, "Idempotency-Key": "keyed-expired"}
    first = await client.post("/v1/responses", json=body, headers=headers)
    assert first.status_code == 201, first.text
    await conn.execute("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'")
    later = await client.post("/v1/responses", json=body, headers=headers)
    assert later.status_code == 201, later.text
    assert "idempotent-replayed" not in later.headers
    assert later.json()["id"] != first.json()["id"]
    assert await conn.fetchval("SELECT count(*) FROM responses") == 2
    stored = await conn.fetchval("SELECT response_body FROM idempotency_keys")
    assert stored == later.content


async def test_the_usual_keyed_answer_is_one_statement_and_the_unusual_ones_write_nothing(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection
) -> None:
    customer = await new_customer(client, crm, "keyed-7")
    key_id = await conn.fetchval("SELECT id FROM api_keys WHERE name = 'crm'")
    claim = KeyToClaim(key_id, "keyed-direct", "POST", "/v1/responses", b"\x01")
    data = msgspec.convert({"customer_id": customer, "survey": "nps", "score": 9}, ResponseCreate)
    answer = await keyed_answers.record_api_response(conn, data, claim)
    assert answer is not None
    assert (answer.status, answer.kind, answer.channel) == (201, "nps", "api")
    assert await conn.fetchval("SELECT response_body FROM idempotency_keys") == answer.body
    with pytest.raises(asyncpg.UniqueViolationError) as taken:
        await keyed_answers.record_api_response(conn, data, claim)
    assert taken.value.constraint_name == KEY_CONSTRAINT
    out_of_scale = msgspec.convert({"customer_id": customer, "survey": "csat", "score": 9}, ResponseCreate)
    other = KeyToClaim(key_id, "keyed-other", "POST", "/v1/responses", b"\x02")
    assert await keyed_answers.record_api_response(conn, out_of_scale, other) is None
    assert await conn.fetchval("SELECT count(*) FROM responses") == 1
    assert await conn.fetchval("SELECT count(*) FROM idempotency_keys") == 1


async def test_an_answer_to_an_invitation_and_its_edit_are_one_statement_each_with_their_events(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection
) -> None:
    invitation_id, _ = await invited(client, crm)
    key_id = await conn.fetchval("SELECT id FROM api_keys WHERE name = 'crm'")
    first = msgspec.convert({"invitation_id": invitation_id, "score": 8, "comment": "ok"}, ResponseCreate)
    answer = await keyed_answers.record_api_response(
        conn, first, KeyToClaim(key_id, "keyed-inv-1", "POST", "/v1/responses", b"\x01")
    )
    assert answer is not None
    created = await conn.fetchrow(f"SELECT {COLUMNS} FROM responses")
    response = msgspec.convert({**dict(created), "survey": "nps"}, SurveyResponse)
    assert (answer.status, answer.body, answer.channel) == (201, msgspec.json.encode(response), "api")
    assert await conn.fetchval("SELECT status FROM invitations WHERE id = $1", uuid.UUID(invitation_id)) == (
        "answered"
    )

    body = {"invitation_id": invitation_id, "score": 2, "contact_requested": True}
    headers = {**crm, "Idempotency-Key": "keyed-inv-2"}
    edit = await client.post("/v1/responses", json=body, headers=headers)
    assert edit.status_code == 201, edit.text
    edited = await conn.fetchrow(f"SELECT {COLUMNS} FROM responses")
    assert edited["id"] == created["id"]
    assert edit.content == msgspec.json.encode(
        msgspec.convert({**dict(edited), "survey": "nps"}, SurveyResponse)
    )
    replay = await client.post("/v1/responses", json=body, headers=headers)
    assert (replay.content, replay.headers["idempotent-replayed"]) == (edit.content, "true")
    first_event, second_event = await events(conn)
    assert (first_event["payload"], first_event["dedupe_key"]) == expected_event(
        "response.created", created, "nps"
    )
    assert (second_event["payload"], second_event["dedupe_key"]) == expected_event(
        "response.updated", edited, "nps"
    )
