"""SMS replies end to end on a real database: the signed webhook, then the worker's processing."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from twilio.request_validator import RequestValidator

from feedback_svc.app import create_app
from feedback_svc.db.pool import create_pool
from feedback_svc.delivery.sms import texts
from feedback_svc.outbox.handlers import outbox_handlers
from feedback_svc.outbox.queries import Job
from feedback_svc.settings import Settings
from feedback_svc.surveys import definitions
from feedback_svc.surveys.schemas import LocaleTexts, SurveyUpdate
from feedback_svc.surveys.sms_inbound import BRAND, INBOUND_TOPIC, OutgoingSms, process_inbound
from feedback_svc.surveys.sms_routes import SmsInboundController

Client = AsyncTestClient[Litestar]

TOKEN = "twilio-auth-token-" + "t" * 14
PUBLIC = "https://feedback.example.com"
PATH = "/v1/inbound/sms"
PHONE = "+4915112345678"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key="test-secret-" + "x" * 32,
        db_pool_min=1,
        db_pool_max=4,
        log_format="console",
        public_base_url=PUBLIC,
        sms_auth_token=TOKEN,
    )


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Client]:
    app = create_app(settings)
    if not any(PATH in route.path for route in app.routes):  # until app.py lists the controller
        app.register(SmsInboundController)
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


def signed(params: dict[str, str], *, url: str = PUBLIC + PATH, token: str = TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)}


def message(body: str, *, sid: str | None = None, phone: str = PHONE) -> dict[str, str]:
    return {
        "MessageSid": sid or f"SM{uuid.uuid4().hex}",
        "AccountSid": "AC" + "0" * 32,
        "From": phone,
        "To": "+15005550006",
        "Body": body,
        "NumMedia": "0",
    }


async def receive(client: Client, params: dict[str, str]) -> None:
    response = await client.post(PATH, data=params, headers=signed(params))
    assert response.status_code == 200, response.text


async def text(
    client: Client, conn: asyncpg.Connection, settings: Settings, body: str, *, phone: str = PHONE
) -> list[OutgoingSms]:
    """The customer texts `body`; the worker processes it; returns our replies."""
    params = message(body, phone=phone)
    await receive(client, params)
    return await process_inbound(conn, params["MessageSid"], settings=settings, now=datetime.now(UTC))


async def invited(
    conn: asyncpg.Connection, *, survey: str = "nps", expires_in: timedelta = timedelta(days=14)
) -> dict[str, Any]:
    """A customer invited by SMS, the conversation waiting for a score."""
    customer_id = await conn.fetchval(
        "INSERT INTO customers (external_id, phone) VALUES ($1, $2) RETURNING id", "crm-1", PHONE
    )
    invitation_id = await conn.fetchval(
        """INSERT INTO invitations (survey_id, customer_id, channel, status, reason, sent_at, expires_at)
           SELECT id, $2, 'sms', 'sent', 'sent', now(), now() + $3::interval FROM surveys WHERE key = $1
           RETURNING id""",
        survey,
        customer_id,
        expires_in,
    )
    await conn.execute(
        "INSERT INTO sms_conversations (phone, invitation_id, state) VALUES ($1, $2, 'awaiting_score')",
        PHONE,
        invitation_id,
    )
    return {"customer_id": customer_id, "invitation_id": invitation_id}


async def conversation(conn: asyncpg.Connection) -> asyncpg.Record:
    return await conn.fetchrow("SELECT state, reprompted FROM sms_conversations WHERE phone = $1", PHONE)


async def responses(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT score, comment, channel FROM responses")


async def sends(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    return [row["payload"] for row in await conn.fetch("SELECT payload FROM outbox WHERE topic = 'sms.send'")]


# -- the webhook


async def test_signed_message_is_stored_and_queued_with_empty_twiml(
    client: Client, conn: asyncpg.Connection
) -> None:
    params = message("9")
    response = await client.post(PATH, data=params, headers=signed(params))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text.endswith("<Response/>")
    stored = await conn.fetchrow("SELECT from_phone, body, processed_at FROM inbound_messages")
    assert (stored["from_phone"], stored["body"], stored["processed_at"]) == (PHONE, "9", None)
    job = await conn.fetchrow("SELECT payload, dedupe_key FROM outbox WHERE topic = 'sms.inbound'")
    assert job["payload"] == {"message_sid": params["MessageSid"]}
    assert job["dedupe_key"] == f"sms.inbound:{params['MessageSid']}"


async def test_query_string_is_part_of_the_signed_url(client: Client, conn: asyncpg.Connection) -> None:
    params = message("9")
    response = await client.post(
        PATH + "?tenant=a", data=params, headers=signed(params, url=f"{PUBLIC}{PATH}?tenant=a")
    )
    assert response.status_code == 200, response.text
    refused = await client.post(
        PATH + "?tenant=b", data=params, headers=signed(params, url=f"{PUBLIC}{PATH}?tenant=a")
    )
    assert refused.status_code == 403
    assert await conn.fetchval("SELECT count(*) FROM inbound_messages") == 1


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda params: {}, id="unsigned"),
        pytest.param(lambda params: signed(params, token="not-the-token"), id="forged"),
        pytest.param(
            lambda params: signed(params, url="https://elsewhere.example.com" + PATH), id="other-url"
        ),
        pytest.param(lambda params: signed(params, url=PUBLIC + "/v1/inbound/other"), id="other-path"),
        pytest.param(lambda params: signed({**params, "Body": "0"}), id="tampered-body"),
    ],
)
async def test_unverified_requests_are_refused_and_nothing_is_stored(
    client: Client, conn: asyncpg.Connection, headers: Any
) -> None:
    params = message("10")
    response = await client.post(PATH, data=params, headers=headers(params))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert "X-Twilio-Signature" in response.json()["detail"]
    assert await conn.fetchval("SELECT count(*) FROM inbound_messages") == 0
    assert await conn.fetchval("SELECT count(*) FROM outbox") == 0


SHARED_KEY = "shared-key-secret-" + "k" * 20


@pytest.mark.parametrize(
    ("key", "signing_key"),
    [(TOKEN, None), (SHARED_KEY, SHARED_KEY)],
    ids=["with the auth token", "with a webhook signing key"],
)
async def test_hmac_sha256_signatures_are_accepted_as_twilio_makes_them(
    settings: Settings, conn: asyncpg.Connection, key: str, signing_key: str | None
) -> None:
    app = create_app(msgspec.structs.replace(settings, sms_webhook_signing_key=signing_key))
    params = message("9 great")
    url = PUBLIC + PATH
    headers = {
        "X-Twilio-Signature": RequestValidator(key).compute_signature(url, params, algorithm="HMAC_SHA256"),
        "X-Twilio-Webhooks-Signature-Settings": "key=webhooks_sharedkey_0001,algorithm=HMAC_SHA256",
    }
    assert RequestValidator(key).validate(url, params, headers["X-Twilio-Signature"], algorithm="HMAC_SHA256")
    async with AsyncTestClient(app=app) as client:
        accepted = await client.post(PATH, data=params, headers=headers)
        assert accepted.status_code == 200, accepted.text
        # the same signature without the header that names its algorithm is a SHA-1 one, and wrong
        refused = await client.post(
            PATH, data=message("9"), headers={"X-Twilio-Signature": headers["X-Twilio-Signature"]}
        )
        assert refused.status_code == 403
        # a SHA-256 signature made with the other secret is refused too
        other = TOKEN if key == SHARED_KEY else SHARED_KEY
        forged = {
            **headers,
            "X-Twilio-Signature": RequestValidator(other).compute_signature(
                url, params, algorithm="HMAC_SHA256"
            ),
        }
        assert (await client.post(PATH, data=params, headers=forged)).status_code == 403
    assert await conn.fetchval("SELECT count(*) FROM inbound_messages") == 1


async def test_without_an_auth_token_every_request_is_refused(
    settings: Settings, database_url: str, conn: asyncpg.Connection
) -> None:
    app = create_app(msgspec.structs.replace(settings, sms_auth_token=None))
    if not any(PATH in route.path for route in app.routes):
        app.register(SmsInboundController)
    params = message("9")
    async with AsyncTestClient(app=app) as unconfigured:
        response = await unconfigured.post(PATH, data=params, headers=signed(params, token=""))
    assert response.status_code == 403
    assert await conn.fetchval("SELECT count(*) FROM inbound_messages") == 0


async def test_redelivered_message_is_stored_and_queued_once(
    client: Client, conn: asyncpg.Connection
) -> None:
    params = message("9")
    await receive(client, params)
    await receive(client, {**params, "Body": "changed on the way"})
    assert await conn.fetchval("SELECT count(*) FROM inbound_messages") == 1
    assert await conn.fetchval("SELECT body FROM inbound_messages") == "9"
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = 'sms.inbound'") == 1


async def test_message_without_sid_is_invalid(client: Client, conn: asyncpg.Connection) -> None:
    params = {key: value for key, value in message("9").items() if key != "MessageSid"}
    response = await client.post(PATH, data=params, headers=signed(params))
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "MessageSid", "message": "required"}]
    assert await conn.fetchval("SELECT count(*) FROM inbound_messages") == 0


# -- the conversation


async def test_score_with_comment_is_answered_and_closed(
    client: Client, conn: asyncpg.Connection, settings: Settings
) -> None:
    await invited(conn)
    replies = await text(client, conn, settings, " 9 great service")
    assert [(row["score"], row["comment"], row["channel"]) for row in await responses(conn)] == [
        (9, "great service", "sms")
    ]
    assert (await conversation(conn))["state"] == "closed"
    assert [reply.body for reply in replies] == [texts.thanks(locale="en")]
    outcome = await conn.fetchrow("SELECT processed_at, outcome FROM inbound_messages")
    assert outcome["processed_at"] is not None
    assert outcome["outcome"] == "score_with_comment"


async def test_score_then_reason_edits_the_same_answer(
    client: Client, conn: asyncpg.Connection, settings: Settings
) -> None:
    await invited(conn)
    first = await text(client, conn, settings, "10/10")
    assert [reply.body for reply in first] == [texts.ask_reason(locale="en")]
    assert (await conversation(conn))["state"] == "awaiting_reason"
    assert [(row["score"], row["comment"]) for row in await responses(conn)] == [(10, None)]

    second = await text(client, conn, settings, "fast delivery")
    assert [(row["score"], row["comment"]) for row in await responses(conn)] == [(10, "fast delivery")]
    assert (await conversation(conn))["state"] == "closed"
    assert [reply.body for reply in second] == [texts.thanks(locale="en")]
    events = await conn.fetch("SELECT payload->>'type' AS type FROM outbox WHERE topic = 'event' ORDER BY id")
    assert [event["type"] for event in events] == ["response.created", "response.updated"]


async def test_replies_are_queued_once_per_inbound_message(
    client: Client, conn: asyncpg.Connection, settings: Settings
) -> None:
    await invited(conn)
    params = message("9 great service")
    await receive(client, params)
    now = datetime.now(UTC)
    replies = await process_inbound(conn, params["MessageSid"], settings=settings, now=now)
    again = await process_inbound(conn, params["MessageSid"], settings=settings, now=now)
    assert again == []
    assert await sends(conn) == [
        {"to": PHONE, "body": replies[0].body, "idempotency_key": f"sms-reply:{params['MessageSid']}"}
    ]
    assert await conn.fetchval("SELECT dedupe_key FROM outbox WHERE topic = 'sms.send'") == (
        f"sms.send:reply:{params['MessageSid']}"
    )


async def test_messages_processed_out_of_order_are_read_in_arrival_order(
    client: Client, conn: asyncpg.Connection, settings: Settings
) -> None:
    await invited(conn)
    score, reason = message("10/10"), message("fast delivery")
    await receive(client, score)
    await receive(client, reason)
    # the second message's job runs first: it reads the earlier one first
    replies = await process_inbound(conn, reason["MessageSid"], settings=settings, now=datetime.now(UTC))
    assert [reply.body for reply in replies] == [texts.ask_reason(locale="en"), texts.thanks(locale="en")]
    assert [(row["score"], row["comment"]) for row in await responses(conn)] == [(10, "fast delivery")]
    assert await process_inbound(conn, score["MessageSid"], settings=settings, now=datetime.now(UTC)) == []


async def test_invalid_score_is_reprompted_once(
    client: Client, conn: asyncpg.Connection, settings: Settings
) -> None:
    await invited(conn)
    first = await text(client, conn, settings, "maybe")
    assert [reply.body for reply in first] == [texts.reprompt(locale="en", kind="nps")]
    assert tuple(await conversation(conn)) == ("awaiting_score", True)

    assert await text(client, conn, settings, "dunno") == []
    assert len(await sends(conn)) == 1
    assert await responses(conn) == []
    # still waiting: a score after the re-prompt is taken
    await text(client, conn, settings, "7")
    assert [row["score"] for row in await responses(conn)] == [7]


async def test_html_in_a_reply_is_stored_as_text(
    client: Client, conn: asyncpg.Connection, settings: Settings
) -> None:
    await invited(conn)
    await text(client, conn, settings, "3")
    await text(client, conn, settings, "<b>slow</b> & <script>alert(1)</script>")
    assert [row["comment"] for row in await responses(conn)] == ["<b>slow</b> & <script>alert(1)</script>"]


async def test_stop_opts_out_once_with_one_confirmation_and_an_event(
    client: Client, conn: asyncpg.Connection, settings: Settings
) -> None:
    ids = await invited(conn)
    replies = await text(client, conn, settings, "STOP")
    assert [reply.body for reply in replies] == [texts.stop_confirmation(locale="en", brand=BRAND)]
    suppression = await conn.fetchrow(
        "SELECT channel, address, reason, customer_id, lifted_at FROM suppressions"
    )
    assert tuple(suppression) == ("sms", PHONE, "sms_stop", ids["customer_id"], None)
    assert (await conversation(conn))["state"] == "closed"
    event = await conn.fetchval("SELECT payload FROM outbox WHERE topic = 'event'")
    assert event["type"] == "customer.opted_out"
    assert event["data"]["customer_id"] == str(ids["customer_id"])
    assert (event["data"]["channel"], event["data"]["address"]) == ("sms", PHONE)

    assert await text(client, conn, settings, "stop") == []
    assert await conn.fetchval("SELECT count(*) FROM suppressions") == 1
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = 'event'") == 1
    assert len(await sends(conn)) == 1
    # an opted-out number's score is not taken: the conversation is closed
    assert await text(client, conn, settings, "9") == []
    assert await responses(conn) == []


async def test_start_lifts_the_opt_out_and_confirms(
    client: Client, conn: asyncpg.Connection, settings: Settings
) -> None:
    await invited(conn)
    await text(client, conn, settings, "STOP")
    replies = await text(client, conn, settings, "Start")
    assert [reply.body for reply in replies] == [texts.start_confirmation(locale="en", brand=BRAND)]
    assert await conn.fetchval("SELECT lifted_at IS NOT NULL FROM suppressions") is True
    # a new STOP opts out again, with its confirmation
    assert len(await text(client, conn, settings, "STOP")) == 1
    assert await conn.fetchval("SELECT count(*) FROM suppressions WHERE lifted_at IS NULL") == 1


async def test_start_keeps_an_operators_suppression(
    client: Client, conn: asyncpg.Connection, settings: Settings
) -> None:
    await invited(conn)
    await conn.execute(
        "INSERT INTO suppressions (channel, address, reason) VALUES ('sms', $1, 'manual')", PHONE
    )
    assert await text(client, conn, settings, "START") == []
    assert await conn.fetchval("SELECT lifted_at FROM suppressions") is None


async def test_help_answers_and_keeps_the_conversation_waiting(
    client: Client, conn: asyncpg.Connection, settings: Settings
) -> None:
    await invited(conn)
    replies = await text(client, conn, settings, "help")
    assert [reply.body for reply in replies] == [texts.help_text(locale="en", brand=BRAND)]
    assert tuple(await conversation(conn)) == ("awaiting_score", False)
    await text(client, conn, settings, "8")
    assert [row["score"] for row in await responses(conn)] == [8]


async def test_replies_use_the_invitations_locale(
    client: Client, conn: asyncpg.Connection, settings: Settings
) -> None:
    ids = await invited(conn)
    await conn.execute("UPDATE invitations SET locale = 'de' WHERE id = $1", ids["invitation_id"])
    replies = await text(client, conn, settings, "neun")
    assert [reply.body for reply in replies] == [texts.ask_reason(locale="de")]
    assert texts.ask_reason(locale="de") != texts.ask_reason(locale="en")


async def test_unknown_number_gets_help_once(
    client: Client, conn: asyncpg.Connection, settings: Settings
) -> None:
    first = await text(client, conn, settings, "9", phone="+15551234567")
    assert [reply.body for reply in first] == [texts.help_text(locale="en", brand=BRAND)]
    assert await text(client, conn, settings, "hello?", phone="+15551234567") == []
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = 'sms.send'") == 1


async def test_expired_invitation_takes_no_answer_and_helps_once(
    client: Client, conn: asyncpg.Connection, settings: Settings
) -> None:
    await invited(conn, expires_in=timedelta(seconds=-1))
    first = await text(client, conn, settings, "9")
    assert [reply.body for reply in first] == [texts.help_text(locale="en", brand=BRAND)]
    assert await responses(conn) == []
    assert (await conversation(conn))["state"] == "closed"
    assert await text(client, conn, settings, "9") == []
    outcomes = await conn.fetch("SELECT outcome FROM inbound_messages ORDER BY received_at")
    assert [row["outcome"] for row in outcomes] == ["invitation_closed", "ignored:closed"]


async def test_opted_out_number_is_not_replied_to(
    client: Client, conn: asyncpg.Connection, settings: Settings
) -> None:
    await invited(conn)
    await conn.execute(
        "INSERT INTO suppressions (channel, address, reason) VALUES ('sms', $1, 'manual')", PHONE
    )
    assert await text(client, conn, settings, "6") == []
    assert [row["score"] for row in await responses(conn)] == [6]  # the answer itself is kept
    assert await sends(conn) == []


async def test_the_surveys_own_thanks_ends_the_conversation(
    client: Client, conn: asyncpg.Connection, settings: Settings
) -> None:
    texts_v2 = {"en": LocaleTexts(thanks="Thanks from all of us at {brand}!")}
    update = SurveyUpdate(texts=texts_v2)
    await definitions.update_survey(conn, "nps", update, brand=settings.brand_name, actor="test")
    await invited(conn)
    replies = await text(client, conn, settings, "9 great service")
    assert [reply.body for reply in replies] == [f"Thanks from all of us at {settings.brand_name}!"]


async def test_the_workers_inbound_job_replies_with_the_deployments_settings(
    client: Client, conn: asyncpg.Connection, settings: Settings, database_url: str
) -> None:
    """The job the webhook queues, run by the handler the worker is wired with (not by calling
    process_inbound here): the reply is signed with the deployment's brand."""
    await invited(conn)
    params = message("help")
    await receive(client, params)
    job = await conn.fetchrow(
        "SELECT id, topic, payload, attempts FROM outbox WHERE topic = $1", INBOUND_TOPIC
    )
    branded = msgspec.structs.replace(settings, brand_name="Acme Care")
    pool = await create_pool(branded, database_url)
    try:
        async with httpx.AsyncClient() as http:
            await outbox_handlers(pool, branded, http=http)[INBOUND_TOPIC](Job(**dict(job)))
    finally:
        await pool.close()
    assert [reply["body"] for reply in await sends(conn)] == [texts.help_text(locale="en", brand="Acme Care")]
    assert await conn.fetchval("SELECT processed_at IS NOT NULL FROM inbound_messages") is True
