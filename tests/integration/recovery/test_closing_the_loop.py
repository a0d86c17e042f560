"""Closing the loop over HTTP and the outbox: the closing message, its templates, and the pulse survey.

Messages go to a real SMTP server (aiosmtpd) and an SMS provider stand-in on loopback, through
the same outbox wiring the service runs.
"""

import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.delivery.sms.gsm import gsm7_septets
from feedback_svc.i18n import SUPPORTED_LOCALES
from feedback_svc.outbox.queries import Job
from feedback_svc.privacy.service import erase_customer
from feedback_svc.recovery.follow_up import TOPIC as FOLLOW_UP
from feedback_svc.recovery.follow_up import FollowUpSender
from feedback_svc.recovery.messages import FIELD_LIMITS, fill, template_problems
from feedback_svc.recovery.pulse import TOPIC as PULSE
from feedback_svc.settings import Settings
from feedback_svc.surveys.tokens import token_for
from tests.conftest import KeyFactory
from tests.integration.delivery.email.conftest import Inbox
from tests.integration.delivery.sms.provider import FakeProvider, running_provider
from tests.integration.recovery.conftest import drain
from tests.listening import SmtpController

Client = AsyncTestClient[Litestar]
# zones spread round the clock: some is always in the day, some always in the quiet hours
ZONES = ("Pacific/Kiritimati", "Pacific/Auckland", "Australia/Brisbane", "Asia/Tokyo", "Asia/Bangkok",
         "Asia/Kolkata", "Asia/Dubai", "Europe/Berlin", "Atlantic/Azores", "America/Sao_Paulo",
         "America/New_York", "America/Los_Angeles", "Pacific/Honolulu", "Pacific/Pago_Pago")  # fmt: skip


def zone_where(hours: Iterable[int]) -> str:
    now = datetime.now(UTC)
    return next(zone for zone in ZONES if now.astimezone(ZoneInfo(zone)).hour in hours)


DAY = range(10, 19)
NIGHT = tuple(range(22, 24)) + tuple(range(7))


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    received = Inbox()
    controller = SmtpController(received)
    controller.start()
    received.port = controller.port  # type: ignore[attr-defined]
    try:
        yield received
    finally:
        controller.stop()


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with running_provider() as fake:
        yield fake


@pytest.fixture
def send_settings(settings: Settings, inbox: Inbox, provider: FakeProvider) -> Settings:
    return msgspec.structs.replace(
        settings,
        public_base_url="https://feedback.acme.example",
        brand_name="Acme",
        smtp_host="127.0.0.1",
        smtp_port=inbox.port,  # type: ignore[attr-defined]
        smtp_security="none",
        mail_from="care@acme.example",
        sms_base_url=provider.url,
        sms_account_sid="AC" + "1" * 32,
        sms_auth_token="test-token",
        sms_from="+15005550006",
    )


@pytest.fixture
def app(send_settings: Settings) -> Litestar:
    from feedback_svc.app import create_app

    return create_app(send_settings)


async def unhappy_customer(
    client: Client, crm: dict[str, str], pool: asyncpg.Pool, settings: Settings, **fields: Any
) -> str:
    """A customer who answered NPS 3 by email, with the task that opened; returns the customer's id."""
    body = {
        "external_id": f"c-{uuid.uuid4().hex[:8]}",
        "name": "Ana",
        "email": "ana@example.com",
        "phone": "+4915112345678",
        "time_zone": zone_where(DAY),
        **fields,
    }
    created = await client.post("/v1/customers", json=body, headers=crm)
    assert created.status_code == 201, created.text
    customer_id = created.json()["id"]
    answered = await client.post(
        "/v1/responses",
        json={"customer_id": customer_id, "survey": "nps", "score": 3, "comment": "late again"},
        headers=crm,
    )
    assert answered.status_code == 201, answered.text
    await drain(pool, settings)  # the answer's event opens the task
    return customer_id


async def claim(client: Client, agent: dict[str, str]) -> dict[str, Any]:
    claimed = await client.post("/v1/recovery/tasks/claim", json={}, headers=agent)
    assert claimed.status_code == 200, claimed.text
    return claimed.json()


async def resolve(
    client: Client, agent: dict[str, str], task: dict[str, Any], *, outcome: str = "recovered", **extra: Any
) -> Any:
    return await client.post(
        f"/v1/recovery/tasks/{task['id']}/resolve",
        json={"lease_token": task["lease_token"], "outcome": outcome, "root_cause": "late_delivery", **extra},
        headers=agent,
    )


async def opt_out(conn: asyncpg.Connection, email: str, reason: str = "unsubscribe") -> None:
    await conn.execute(
        "INSERT INTO suppressions (channel, address, reason) VALUES ('email', $1, $2)", email, reason
    )


async def jobs(conn: asyncpg.Connection, topic: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, status, payload, run_after, dedupe_key FROM outbox WHERE topic = $1 ORDER BY id", topic
    )


async def history(conn: asyncpg.Connection, task_id: str) -> list[tuple[str, dict[str, Any]]]:
    rows = await conn.fetch(
        "SELECT action, details FROM recovery_task_history WHERE task_id = $1 ORDER BY id", uuid.UUID(task_id)
    )
    return [(row["action"], row["details"]) for row in rows]


@pytest.fixture
async def ana(make_key: KeyFactory) -> dict[str, str]:
    return await make_key("agent", name="ana-laptop", agent="ana")


async def test_a_closing_email_from_the_template_is_sent_once_and_stored_on_the_task(
    client: Client,
    crm: dict[str, str],
    ana: dict[str, str],
    pool: asyncpg.Pool,
    send_settings: Settings,
    conn: asyncpg.Connection,
    inbox: Inbox,
) -> None:
    await unhappy_customer(client, crm, pool, send_settings)
    task = await claim(client, ana)
    resolved = await resolve(client, ana, task, follow_up={})
    assert resolved.status_code == 200, resolved.text
    follow_up = resolved.json()["follow_up"]
    assert (follow_up["channel"], follow_up["status"], follow_up["source"]) == ("email", "queued", "template")
    assert follow_up["subject"] == "Thank you for talking with us"
    assert follow_up["text"].startswith("Hello Ana,\n\nThank you for taking the time")
    assert "Kind regards,\nana\n\n-- \nAcme\n" in follow_up["text"]
    [job] = await jobs(conn, FOLLOW_UP)
    assert job["dedupe_key"] == f"{FOLLOW_UP}:{task['id']}:{job['payload']['requested_at']}"

    await drain(pool, send_settings)
    [mail] = inbox.received
    assert mail.rcpt_tos == ["ana@example.com"]
    assert mail.message["Subject"] == "Thank you for talking with us"
    assert mail.message["Content-Language"] == "en"
    assert mail.message.get_content().replace("\r\n", "\n") == follow_up["text"]
    detail = (await client.get(f"/v1/recovery/tasks/{task['id']}", headers=ana)).json()
    sent = detail["task"]["follow_up"]
    assert (sent["status"], sent["reason"]) == ("sent", "sent by email")
    assert sent["sent_at"] is not None
    assert [h["action"] for h in detail["history"]][-3:] == ["resolved", "follow_up", "follow_up_sent"]

    # the worker dies before marking the job done and the job runs again: nothing more is sent
    sender = FollowUpSender(pool, settings=send_settings, email=_Boom(), sms=_Boom())
    await sender(Job(id=job["id"], topic=FOLLOW_UP, payload=job["payload"], attempts=2))
    assert len(inbox.received) == 1


class _Boom:
    async def send(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a settled message must not be sent again")


async def test_a_german_customer_gets_the_german_template_and_own_words_go_as_written(
    client: Client,
    crm: dict[str, str],
    ana: dict[str, str],
    pool: asyncpg.Pool,
    send_settings: Settings,
    inbox: Inbox,
    provider: FakeProvider,
) -> None:
    await unhappy_customer(client, crm, pool, send_settings, locale="de-AT")
    task = await claim(client, ana)
    resolved = (await resolve(client, ana, task, follow_up={})).json()["follow_up"]
    assert (resolved["locale"], resolved["subject"]) == ("de", "Danke für das Gespräch")
    assert resolved["text"].startswith("Hallo Ana,\n\nvielen Dank")

    await unhappy_customer(client, crm, pool, send_settings, name=None)
    task = await claim(client, ana)
    words = "Hi, the refund of 12 EUR is on its way. Bo"
    own = (await resolve(client, ana, task, follow_up={"channel": "sms", "text": words})).json()["follow_up"]
    assert (own["channel"], own["source"], own["text"]) == ("sms", "agent", f"Acme: {words}")
    await drain(pool, send_settings)
    [sms] = provider.requests
    assert sms.form["Body"] == f"Acme: {words}"
    assert sms.form["To"] == "+4915112345678"


async def test_opt_outs_decide_the_channel_or_keep_the_message_with_the_reason(
    client: Client,
    crm: dict[str, str],
    ana: dict[str, str],
    pool: asyncpg.Pool,
    send_settings: Settings,
    conn: asyncpg.Connection,
    inbox: Inbox,
) -> None:
    await opt_out(conn, "ana@example.com")
    await unhappy_customer(client, crm, pool, send_settings)
    task = await claim(client, ana)
    asked = (await resolve(client, ana, task, follow_up={"channel": "email"})).json()
    assert asked["status"] == "resolved"
    assert (asked["follow_up"]["status"], asked["follow_up"]["reason"]) == (
        "not_sent",
        "not sent: opted out of email",
    )
    assert await jobs(conn, FOLLOW_UP) == []

    # without a channel named, the customer's usable one: SMS (during the day where they live)
    await unhappy_customer(client, crm, pool, send_settings)
    task = await claim(client, ana)
    usable = (await resolve(client, ana, task, follow_up={})).json()["follow_up"]
    assert (usable["channel"], usable["status"]) == ("sms", "queued")
    assert usable["text"].startswith("Acme: Thank you for talking with us.")
    assert inbox.received == []


async def test_an_opt_out_or_erasure_after_the_resolution_stops_a_queued_message(
    client: Client,
    crm: dict[str, str],
    ana: dict[str, str],
    pool: asyncpg.Pool,
    send_settings: Settings,
    conn: asyncpg.Connection,
    inbox: Inbox,
) -> None:
    await unhappy_customer(client, crm, pool, send_settings)
    task = await claim(client, ana)
    await resolve(client, ana, task, follow_up={"text": "We sorted it, Ana."})
    await opt_out(conn, "ana@example.com", "complaint")
    await drain(pool, send_settings)
    assert inbox.received == []
    row = await conn.fetchrow(
        "SELECT follow_up_status, follow_up_reason FROM recovery_tasks WHERE id = $1", uuid.UUID(task["id"])
    )
    assert tuple(row) == ("not_sent", "not sent: opted out of email")
    assert (
        "follow_up_not_sent",
        {"channel": "email", "reason": "not sent: opted out of email"},
    ) in await history(conn, task["id"])

    customer_id = await unhappy_customer(client, crm, pool, send_settings, email="bo@example.com")
    task = await claim(client, ana)
    await resolve(client, ana, task, follow_up={"text": "Dear Bo, sorry about the parcel."})
    async with pool.acquire() as c:
        await erase_customer(
            c, uuid.UUID(customer_id), actor_id="test", request_id=None, now=datetime.now(UTC)
        )
    await drain(pool, send_settings)
    assert inbox.received == []
    row = await conn.fetchrow(
        "SELECT follow_up_status, follow_up_reason, follow_up_text, follow_up_subject FROM recovery_tasks "
        "WHERE id = $1",
        uuid.UUID(task["id"]),
    )
    assert tuple(row) == ("not_sent", "customer erased", None, None)
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE payload::text LIKE '%sorry about%'") == 0


async def test_an_sms_waits_for_the_end_of_the_customers_quiet_hours(
    client: Client,
    crm: dict[str, str],
    ana: dict[str, str],
    pool: asyncpg.Pool,
    send_settings: Settings,
    conn: asyncpg.Connection,
    provider: FakeProvider,
) -> None:
    zone = zone_where(NIGHT)
    await unhappy_customer(client, crm, pool, send_settings, time_zone=zone)
    task = await claim(client, ana)
    queued = (await resolve(client, ana, task, follow_up={"channel": "sms"})).json()["follow_up"]
    assert queued["status"] == "queued"
    assert queued["reason"].startswith(f"queued: sms quiet hours in {zone} until 09:00")
    [job] = await jobs(conn, FOLLOW_UP)
    assert job["run_after"].astimezone(ZoneInfo(zone)).hour == 9
    await drain(pool, send_settings)
    assert provider.requests == []  # not yet


async def test_own_words_too_long_for_an_sms_refuse_the_whole_resolution(
    client: Client, crm: dict[str, str], ana: dict[str, str], pool: asyncpg.Pool, send_settings: Settings
) -> None:
    await unhappy_customer(client, crm, pool, send_settings)
    task = await claim(client, ana)
    refused = await resolve(client, ana, task, follow_up={"channel": "sms", "text": "x" * 600})
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "follow_up.text"
    still = (await client.get(f"/v1/recovery/tasks/{task['id']}", headers=ana)).json()["task"]
    assert (still["status"], still["follow_up"]) == ("open", None)


async def test_templates_are_read_by_agents_and_changed_by_admins_with_placeholders_checked(
    client: Client,
    crm: dict[str, str],
    ana: dict[str, str],
    make_key: KeyFactory,
    pool: asyncpg.Pool,
    send_settings: Settings,
) -> None:
    listed = await client.get("/v1/recovery/message-templates", headers=ana)
    assert listed.status_code == 200
    # every language the surveys speak has its closing messages, valid as if an operator saved them
    assert {(t["outcome"], t["locale"]) for t in listed.json()} == {
        (outcome, locale)
        for outcome in ("recovered", "not_recovered", "unreachable", "no_action_needed")
        for locale in SUPPORTED_LOCALES
    }
    for shipped in listed.json():
        fields = {field: shipped[field] for field in FIELD_LIMITS}
        assert template_problems(fields) == [], shipped
        assert gsm7_septets(fill(shipped["sms"], name=None, brand="Acme", agent="Ana")) is not None, shipped
        assert fill(shipped["greeting"], name=None, brand="Acme", agent="Ana").endswith((",", ":")), shipped
    body = {
        "subject": "Tack",
        "greeting": "Hej {name},",
        "body": "Tack för din återkoppling.\n\n{agent}",
        "sms": "{brand}: Tack! - {agent}",
    }
    assert (
        await client.put("/v1/recovery/message-templates/recovered/sv", json=body, headers=ana)
    ).status_code == 403
    admin = await make_key("admin", name="ops")
    bad = await client.put(
        "/v1/recovery/message-templates/recovered/sv",
        json={**body, "sms": "{brand}: Tack {prenom}"},
        headers=admin,
    )
    assert bad.status_code == 422
    assert bad.json()["errors"] == [
        {
            "field": "sms",
            "message": "unknown placeholder {prenom}; use {name}, {brand}, {agent}",
            "source": "body",
        }
    ]
    created = await client.put("/v1/recovery/message-templates/recovered/sv", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert (created.json()["locale"], created.json()["updated_by"]) == ("sv", "ops (API key)")
    changed = await client.put(
        "/v1/recovery/message-templates/recovered/SV",
        json={**body, "subject": "Tack så mycket"},
        headers=admin,
    )
    assert (changed.status_code, changed.json()["subject"]) == (200, "Tack så mycket")

    await unhappy_customer(client, crm, pool, send_settings, locale="sv-SE")
    task = await claim(client, ana)
    message = (await resolve(client, ana, task, follow_up={})).json()["follow_up"]
    assert (message["locale"], message["subject"]) == ("sv", "Tack så mycket")
    assert message["text"].startswith("Hej Ana,\n\nTack för din återkoppling.\n\nana")

    assert (
        await client.delete("/v1/recovery/message-templates/recovered/en", headers=admin)
    ).status_code == 409
    assert (
        await client.delete("/v1/recovery/message-templates/recovered/sv", headers=admin)
    ).status_code == 204
    assert (
        await client.delete("/v1/recovery/message-templates/recovered/sv", headers=admin)
    ).status_code == 404


# -- the pulse ------------------------------------------------------------------------------


async def make_due(conn: asyncpg.Connection, topic: str) -> None:
    await conn.execute("UPDATE outbox SET run_after = now() WHERE topic = $1 AND status = 'pending'", topic)


async def test_a_recovered_task_gets_a_pulse_of_its_survey_despite_the_cooldown(
    client: Client,
    crm: dict[str, str],
    ana: dict[str, str],
    pool: asyncpg.Pool,
    send_settings: Settings,
    conn: asyncpg.Connection,
    inbox: Inbox,
) -> None:
    customer_id = await unhappy_customer(client, crm, pool, send_settings)
    # asked a week ago: the cooldown would hold any ordinary survey back
    invited = await client.post(
        "/v1/invitations", json={"customer_id": customer_id, "survey": "nps", "channel": "web"}, headers=crm
    )
    assert invited.json()["status"] == "sent"
    task = await claim(client, ana)
    resolved = (await resolve(client, ana, task)).json()
    due = datetime.fromisoformat(resolved["pulse_due_at"])
    resolved_at = datetime.fromisoformat(resolved["resolved_at"])
    assert due - resolved_at == timedelta(days=14)
    [job] = await jobs(conn, PULSE)
    assert job["run_after"] == due
    await drain(pool, send_settings)
    assert await conn.fetchval("SELECT count(*) FROM invitations WHERE purpose = 'pulse'") == 0  # not yet

    await make_due(conn, PULSE)
    await drain(pool, send_settings)
    pulse = await conn.fetchrow(
        "SELECT i.id, i.status, i.channel, i.reason, i.recovery_task_id, s.key AS survey "
        "FROM invitations i JOIN surveys s ON s.id = i.survey_id WHERE i.purpose = 'pulse'"
    )
    assert (pulse["survey"], pulse["status"], pulse["channel"]) == ("nps", "sent", "email")
    assert pulse["recovery_task_id"] == uuid.UUID(task["id"])
    [mail] = inbox.received
    assert "You told us about a problem recently" in mail.message.get_body(("plain",)).get_content()
    # the job again (a lease ran out): still one pulse
    await conn.execute("UPDATE outbox SET status = 'pending', run_after = now() WHERE topic = $1", PULSE)
    await drain(pool, send_settings)
    assert await conn.fetchval("SELECT count(*) FROM invitations WHERE purpose = 'pulse'") == 1

    # the page asks the score alone, and the answer is an ordinary answer of the survey
    token = token_for(send_settings.secret_key or "", pulse["id"])
    page = await client.get(f"/s/{token}")
    assert page.status_code == 200
    assert 'name="score"' in page.text
    assert 'name="comment"' not in page.text
    assert 'name="contact_requested"' not in page.text
    answered = await client.post(f"/s/{token}", data={"score": "9"})
    assert answered.status_code == 200
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM responses r JOIN surveys s ON s.id = r.survey_id "
            "WHERE r.customer_id = $1 AND s.key = 'nps' AND r.invitation_id = $2 AND r.score = 9",
            uuid.UUID(customer_id),
            pulse["id"],
        )
        == 1
    )
    detail = (await client.get(f"/v1/recovery/tasks/{task['id']}", headers=ana)).json()
    assert (detail["pulse"]["status"], detail["pulse"]["score"]) == ("answered", 9)
    effect = (await client.get("/v1/recovery/effectiveness", headers=ana)).json()["score_change"]
    overall = next(r for r in effect["rows"] if r["dimension"] == "all" and r["kind"] == "nps")
    assert (overall["paired"], overall["before"], overall["after"]) == (1, 3.0, 9.0)
    assert overall["change"]["value"] == 6.0


async def test_who_gets_no_pulse_and_what_a_pulse_still_respects(
    client: Client,
    crm: dict[str, str],
    ana: dict[str, str],
    pool: asyncpg.Pool,
    send_settings: Settings,
    conn: asyncpg.Connection,
) -> None:
    await unhappy_customer(client, crm, pool, send_settings)
    task = await claim(client, ana)
    assert (await resolve(client, ana, task, outcome="unreachable")).json()["pulse_due_at"] is None
    await unhappy_customer(client, crm, pool, send_settings)
    task = await claim(client, ana)
    assert (await resolve(client, ana, task, outcome="no_action_needed")).json()["pulse_due_at"] is None
    assert await jobs(conn, PULSE) == []

    # opted out of every channel by the time the pulse is due: recorded, not sent
    customer_id = await unhappy_customer(client, crm, pool, send_settings, phone=None)
    task = await claim(client, ana)
    assert (await resolve(client, ana, task, outcome="not_recovered")).json()["pulse_due_at"] is not None
    await opt_out(conn, "ana@example.com")
    await make_due(conn, PULSE)
    await drain(pool, send_settings)
    status, reason = await conn.fetchrow(
        "SELECT status, reason FROM invitations WHERE purpose = 'pulse' AND customer_id = $1",
        uuid.UUID(customer_id),
    )
    assert (status, reason) == ("suppressed", "suppressed: opted out of email, no phone number")
    [(action, details)] = [h for h in await history(conn, task["id"]) if h[0].startswith("pulse")]
    assert (action, details["status"]) == ("pulse", "suppressed")

    # reopened before it was due: the old job finds the task changed and does nothing
    await unhappy_customer(client, crm, pool, send_settings, email="cy@example.com")
    task = await claim(client, ana)
    await resolve(client, ana, task)
    reopened = await client.post(
        f"/v1/recovery/tasks/{task['id']}/reopen", json={"reason": "called back"}, headers=ana
    )
    assert reopened.json()["pulse_due_at"] is None
    await make_due(conn, PULSE)
    await drain(pool, send_settings)
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM invitations WHERE recovery_task_id = $1", uuid.UUID(task["id"])
        )
        == 0
    )


async def test_a_pulse_by_sms_asks_the_score_alone(
    client: Client,
    crm: dict[str, str],
    ana: dict[str, str],
    pool: asyncpg.Pool,
    send_settings: Settings,
    conn: asyncpg.Connection,
    provider: FakeProvider,
) -> None:
    from feedback_svc.surveys.sms_inbound import process_inbound, store_inbound

    await unhappy_customer(client, crm, pool, send_settings, email=None)
    task = await claim(client, ana)
    await resolve(client, ana, task)
    await make_due(conn, PULSE)
    await drain(pool, send_settings)
    [invitation] = provider.requests
    assert "How likely are you to recommend us" in invitation.form["Body"]
    async with conn.transaction():
        await store_inbound(conn, message_sid="SM-pulse-1", from_phone="+4915112345678", body="8")
    [reply] = await process_inbound(conn, "SM-pulse-1", settings=send_settings, now=datetime.now(UTC))
    assert reply.body == "Thank you for your feedback!"
    assert (
        await conn.fetchval("SELECT state FROM sms_conversations WHERE phone = '+4915112345678'") == "closed"
    )


async def test_a_closing_control_task_gets_a_pulse_too(
    conn: asyncpg.Connection, pool: asyncpg.Pool, settings: Settings
) -> None:
    from feedback_svc.recovery.escalation import EscalationSweeper
    from tests.integration.recovery.conftest import insert_customer, insert_task

    customer = await insert_customer(conn)
    survey = await conn.fetchval("SELECT id FROM surveys WHERE key = 'csat'")
    response = await conn.fetchval(
        "INSERT INTO responses (customer_id, survey_id, kind, score, channel, editable_until) "
        "VALUES ($1, $2, 'csat', 1, 'api', now()) RETURNING id",
        customer,
        survey,
    )
    task = await insert_task(conn, customer, trigger="csat_low", control=True,
                             deadline_at=datetime.now(UTC) - timedelta(minutes=1))  # fmt: skip
    await conn.execute(
        "INSERT INTO recovery_evidence (task_id, trigger, response_id) VALUES ($1, 'csat_low', $2)",
        task,
        response,
    )
    churn_only = await insert_task(conn, await insert_customer(conn), trigger="churn_risk", control=True,
                                   deadline_at=datetime.now(UTC) - timedelta(minutes=1))  # fmt: skip
    sweeper = EscalationSweeper(
        pool, interval=1, settings=msgspec.structs.replace(settings, recovery_pulse_days=14)
    )
    assert (await sweeper.sweep_once())[:2] == (0, 2)
    rows = {
        row["id"]: row["pulse_due_at"] - row["resolved_at"] if row["pulse_due_at"] else None
        for row in await conn.fetch("SELECT id, pulse_due_at, resolved_at FROM recovery_tasks")
    }
    assert rows == {task: timedelta(days=14), churn_only: None}
    [job] = await jobs(conn, PULSE)
    assert job["payload"]["task_id"] == str(task)
