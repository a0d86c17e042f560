"""The one-statement answer paths write what the step-by-step ones did, and idempotency still waits."""

import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.apikeys.service import Principal
from feedback_svc.lib.idempotency import run_idempotent
from feedback_svc.outbox.events import EVENT_TOPIC
from feedback_svc.settings import Settings
from feedback_svc.surveys import queries
from feedback_svc.surveys.schemas import SurveyResponse
from feedback_svc.surveys.service import invitation_is_open
from tests.integration.surveys.test_pages import invited, token

Client = AsyncTestClient[Litestar]
COLUMNS = (
    "id, customer_id, invitation_id, kind, score, comment, contact_requested, channel, touchpoint, "
    "answered_at, updated_at, editable_until"
)


async def events(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT payload, ordering_key, dedupe_key FROM outbox WHERE topic = $1 ORDER BY id", EVENT_TOPIC
    )


def expected_event(kind: str, row: asyncpg.Record, survey: str) -> tuple[dict[str, object], str]:
    """The payload and dedupe key as service._emit_response_event writes them from Python."""
    response = msgspec.convert({**dict(row), "survey": survey}, SurveyResponse)
    payload = {"type": kind, "data": msgspec.to_builtins(response)}
    return payload, f"{kind}:{response.id}:{response.updated_at.isoformat()}"


async def test_the_form_answer_and_its_edit_write_the_events_python_would(
    client: Client, crm: dict[str, str], settings: Settings, conn: asyncpg.Connection
) -> None:
    invitation_id, customer = await invited(client, crm)
    url = f"/s/{token(settings, invitation_id)}"
    assert (await client.post(url, data={"score": "9", "comment": "fine"})).status_code == 200
    first = await conn.fetchrow(f"SELECT {COLUMNS} FROM responses")
    assert (await client.post(url, data={"score": "3", "contact_requested": "true"})).status_code == 200
    edited = await conn.fetchrow(f"SELECT {COLUMNS} FROM responses")
    assert edited["id"] == first["id"]
    assert edited["score"] == 3
    assert edited["comment"] is None
    assert await conn.fetchval("SELECT status FROM invitations WHERE id = $1", uuid.UUID(invitation_id)) == (
        "answered"
    )
    created, updated = await events(conn)
    assert (created["payload"], created["dedupe_key"]) == expected_event("response.created", first, "nps")
    assert (updated["payload"], updated["dedupe_key"]) == expected_event("response.updated", edited, "nps")
    assert created["ordering_key"] == updated["ordering_key"] == customer["id"]


async def test_the_api_answer_event_matches_the_reply_and_whole_seconds_read_like_msgspec(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection
) -> None:
    customer = (await client.post("/v1/customers", json={"external_id": "api-answer"}, headers=crm)).json()
    whole_second = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    reply = await client.post(
        "/v1/responses",
        json={
            "customer_external_id": "api-answer",
            "survey": "ces",
            "score": 7,
            "answered_at": whole_second.isoformat(),
        },
        headers=crm,
    )
    assert reply.status_code == 201, reply.text
    (event,) = await events(conn)
    assert event["payload"] == {"type": "response.created", "data": reply.json()}
    assert event["payload"]["data"]["answered_at"] == "2026-01-02T03:04:05Z"
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM responses")
    assert (event["payload"], event["dedupe_key"]) == expected_event("response.created", row, "ces")
    assert event["ordering_key"] == customer["id"]


async def test_nothing_is_written_when_the_statement_finds_nothing_to_answer(
    conn: asyncpg.Connection,
) -> None:
    now = datetime.now(UTC)
    common = {"comment": None, "contact_requested": False, "answered_at": now, "event_topic": EVENT_TOPIC}
    assert (
        await queries.answer_invitation(
            conn, token_hash=b"\0" * 32, now=now, score=5, kinds=["nps"], channel=None, **common
        )
        is None
    )
    assert (
        await queries.record_api_response(
            conn,
            customer_id=None,
            customer_external_id="nobody",
            survey_key="nps",
            kinds=["nps"],
            score=5,
            **common,
        )
        is None
    )
    assert await conn.fetchval("SELECT count(*) FROM responses") == 0
    assert await conn.fetchval("SELECT count(*) FROM outbox") == 0


async def test_a_key_still_in_flight_is_409_after_the_short_wait_and_nothing_is_stored_twice(
    client: Client, crm: dict[str, str], database_url: str, conn: asyncpg.Connection
) -> None:
    customer = (await client.post("/v1/customers", json={"external_id": "in-flight"}, headers=crm)).json()
    body = {"customer_id": customer["id"], "survey": "nps", "score": 9}
    headers = {**crm, "Idempotency-Key": "in-flight-1"}
    first = await client.post("/v1/responses", json=body, headers=headers)
    assert first.status_code == 201
    # another request holding the key's row, as the first one does while it runs
    holder = await asyncpg.connect(database_url)
    try:
        async with holder.transaction():
            await holder.execute("SELECT 1 FROM idempotency_keys WHERE key = 'in-flight-1' FOR UPDATE")
            started = time.monotonic()
            busy = await client.post("/v1/responses", json=body, headers=headers)
            waited = time.monotonic() - started
        assert busy.status_code == 409, busy.text
        assert busy.headers["retry-after"] == "1"
        assert 0.15 < waited < 5
    finally:
        await holder.close()
    replay = await client.post("/v1/responses", json=body, headers=headers)
    assert replay.content == first.content
    assert replay.headers["idempotent-replayed"] == "true"
    assert await conn.fetchval("SELECT count(*) FROM responses") == 1


async def test_the_work_after_a_claim_runs_with_the_usual_lock_timeout(
    crm: dict[str, str], database_url: str, conn: asyncpg.Connection
) -> None:
    """The claim bounds only its own wait; the work that follows may wait as long as it always could."""
    key_id = await conn.fetchval("SELECT id FROM api_keys WHERE name = 'crm'")

    async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
        return 200, (await conn.fetchval("SELECT current_setting('lock_timeout')")).encode()

    async with asyncpg.create_pool(database_url, min_size=1, max_size=1) as pool:
        usual = await pool.fetchval("SELECT current_setting('lock_timeout')")
        status, content, replayed = await run_idempotent(
            pool,
            principal=Principal(key_id=key_id, name="crm", scopes=frozenset({"crm"})),
            key="timeout-check",
            method="POST",
            path="/v1/x",
            body=b"{}",
            work=work,
        )
    assert (status, content.decode(), replayed) == (200, usual, False)


async def test_an_answer_and_its_event_commit_together_or_neither_does(
    client: Client, crm: dict[str, str], settings: Settings, conn: asyncpg.Connection
) -> None:
    """The event's insert fails (a trigger refuses it): the answer is not kept either."""
    invitation_id, customer = await invited(client, crm)
    await conn.execute(
        "CREATE FUNCTION refuse_events() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'outbox refused'; END $$; "
        "CREATE TRIGGER refuse_events BEFORE INSERT ON outbox FOR EACH ROW "
        f"WHEN (NEW.topic = '{EVENT_TOPIC}') EXECUTE FUNCTION refuse_events()"
    )
    url = f"/s/{token(settings, invitation_id)}"
    form = await client.post(url, data={"score": "2", "comment": "late"})
    api = await client.post(
        "/v1/responses", json={"customer_id": customer["id"], "survey": "csat", "score": 1}, headers=crm
    )
    assert (form.status_code, api.status_code) == (500, 500), (form.text, api.text)
    assert "outbox refused" not in form.text + api.text  # no internals on the wire
    assert await conn.fetchval("SELECT count(*) FROM responses") == 0
    assert await conn.fetchval("SELECT status FROM invitations WHERE id = $1", uuid.UUID(invitation_id)) != (
        "answered"
    )

    await conn.execute("DROP TRIGGER refuse_events ON outbox")  # the fault passes; the retry is whole
    assert (await client.post(url, data={"score": "2", "comment": "late"})).status_code == 200
    assert await conn.fetchval("SELECT count(*) FROM responses") == 1
    assert len(await events(conn)) == 1


def test_an_invitation_expiring_at_this_very_instant_takes_no_answer() -> None:
    now = datetime.now(UTC)
    invitation = {"erased": False, "expires_at": now, "status": "sent"}
    assert not invitation_is_open(invitation, now)
    assert invitation_is_open({**invitation, "expires_at": now + timedelta(microseconds=1)}, now)
    for closed in ({"erased": True}, {"status": "suppressed"}, {"status": "failed"}, {"status": "expired"}):
        later = {**invitation, "expires_at": now + timedelta(days=1), **closed}
        assert not invitation_is_open(later, now), closed
