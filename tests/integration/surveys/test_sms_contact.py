""" "Contact me" by SMS: a reply keyword opens the same highest-urgency task as the survey page's
checkbox, confirmed to the customer with the deadline it promises, in their language and time."""

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from feedback_svc.console.sentences import evidence_text
from feedback_svc.delivery.sms import texts
from feedback_svc.i18n.dates import format_moment
from feedback_svc.outbox.events import EVENT_TOPIC, Event
from feedback_svc.recovery.triggers import RecoveryTriggers
from feedback_svc.settings import Settings
from feedback_svc.surveys.sms_inbound import BRAND, process_inbound
from tests.integration.surveys.test_sms_inbound import (
    PHONE,
    Client,
    client,
    conversation,
    invited,
    message,
    receive,
    sends,
    settings,
    text,
)

__all__ = ["client", "settings"]  # the fixtures this module uses, as test_sms_inbound sets them up

FOUR_HOURS = timedelta(hours=4)


async def task(conn: asyncpg.Connection) -> asyncpg.Record:
    [row] = await conn.fetch(
        "SELECT id, customer_id, trigger, deadline_at, priority, status FROM recovery_tasks"
    )
    return row


async def evidence(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT trigger, response_id, details FROM recovery_evidence ORDER BY id")


async def outcomes(conn: asyncpg.Connection) -> list[str]:
    return [
        row["outcome"]
        for row in await conn.fetch("SELECT outcome FROM inbound_messages ORDER BY received_at")
    ]


async def run_events(conn: asyncpg.Connection, settings: Settings) -> list[str]:
    """Hand every pending event to the recovery triggers, as the outbox worker does; their types."""
    triggers = RecoveryTriggers(settings)
    handled = []
    for row in await conn.fetch(
        "SELECT id, payload FROM outbox WHERE topic = $1 AND status = 'pending' ORDER BY id", EVENT_TOPIC
    ):
        async with conn.transaction():
            event = Event(id=row["id"], type=row["payload"]["type"], data=row["payload"]["data"])
            await triggers(conn, event)
            await conn.execute("UPDATE outbox SET status = 'done' WHERE id = $1", row["id"])
        handled.append(event.type)
    return handled


def confirmation(deadline: datetime, *, locale: str = "en", zone: str = "UTC") -> str:
    written = format_moment(deadline, locale=locale, time_zone=zone, compact=True)
    return texts.contact_confirmation(locale=locale, brand=BRAND, contact_by=written)


async def test_call_me_while_the_score_is_awaited_opens_the_contact_task_and_confirms_its_deadline(
    client: Client, conn: asyncpg.Connection, settings: Settings
) -> None:
    ids = await invited(conn)
    before = datetime.now(UTC)
    [reply] = await text(client, conn, settings, "Call me!")
    opened = await task(conn)
    assert (opened["customer_id"], opened["trigger"], opened["status"]) == (
        ids["customer_id"],
        "contact_requested",
        "open",
    )
    assert before + FOUR_HOURS <= opened["deadline_at"] <= datetime.now(UTC) + FOUR_HOURS
    assert opened["priority"] >= 100, "urgency 1.0: the top of the queue, as the checkbox puts it"
    assert reply.body == confirmation(opened["deadline_at"])
    assert reply.to == PHONE
    [signal] = await evidence(conn)
    assert (signal["trigger"], signal["response_id"]) == ("contact_requested", None)
    assert signal["details"]["via"] == "sms_keyword"
    assert signal["details"]["invitation_id"] == str(ids["invitation_id"])
    assert await outcomes(conn) == ["contact"]
    events = [
        row["payload"]["type"] for row in await conn.fetch("SELECT payload FROM outbox WHERE topic = 'event'")
    ]
    assert events == ["task.created"], "the CRM hears of the task"

    # the survey is still open: a score can follow
    assert (await conversation(conn))["state"] == "awaiting_score"
    await text(client, conn, settings, "3")
    assert await conn.fetchval("SELECT score FROM responses") == 3
    # the console tells it in words
    assert evidence_text(
        "contact_requested", signal["details"] | {"deadline_at": "2026-11-23T14:00:00+00:00"}, zone="UTC"
    ) == ("Asked to be contacted, by SMS reply. Contact promised by 2026-11-23 14:00 UTC.")


async def test_call_me_after_the_score_marks_the_answer_as_the_checkbox_would(
    client: Client, conn: asyncpg.Connection, settings: Settings
) -> None:
    await invited(conn)
    await text(client, conn, settings, "2")
    assert (await conversation(conn))["state"] == "awaiting_reason"
    [reply] = await text(client, conn, settings, "CALL")
    answer = await conn.fetchrow("SELECT id, score, contact_requested FROM responses")
    assert (answer["score"], answer["contact_requested"]) == (2, True)
    updated = await conn.fetch(
        "SELECT payload FROM outbox WHERE topic = 'event' AND payload->>'type' = 'response.updated'"
    )
    assert [row["payload"]["data"]["contact_requested"] for row in updated] == [True]
    opened = await task(conn)
    assert reply.body == confirmation(opened["deadline_at"])
    [signal] = await evidence(conn)
    assert (signal["trigger"], signal["response_id"]) == ("contact_requested", answer["id"])

    # the answer's own events then find the request recorded: one task, one contact signal,
    # and the detractor answer joins it
    await run_events(conn, settings)
    assert (await task(conn))["id"] == opened["id"]
    assert sorted(row["trigger"] for row in await evidence(conn)) == ["contact_requested", "nps_detractor"]
    assert (await task(conn))["trigger"] == "contact_requested"

    # the reason can still follow, and the request stays on the answer
    assert (await conversation(conn))["state"] == "awaiting_reason"
    await text(client, conn, settings, "The parcel came a week late")
    kept = await conn.fetchrow("SELECT comment, contact_requested FROM responses")
    assert (kept["comment"], kept["contact_requested"]) == ("The parcel came a week late", True)


async def test_a_score_with_call_me_is_an_answer_with_the_request(
    client: Client, conn: asyncpg.Connection, settings: Settings
) -> None:
    await invited(conn)
    [reply] = await text(client, conn, settings, "2 call me")
    answer = await conn.fetchrow("SELECT id, score, comment, contact_requested, answered_at FROM responses")
    assert (answer["score"], answer["comment"], answer["contact_requested"]) == (2, "call me", True)
    assert await outcomes(conn) == ["score_with_contact"]
    # the task opens from the answer's event, as for the checkbox, with the deadline promised
    assert await run_events(conn, settings) == ["response.created"]
    opened = await task(conn)
    assert opened["deadline_at"] == answer["answered_at"] + FOUR_HOURS
    written = format_moment(opened["deadline_at"], locale="en", time_zone="UTC", compact=True)
    assert reply.body == texts.thanks(locale="en", contact_by=written)


async def test_a_german_customer_asks_for_a_call_back_and_is_answered_in_german_in_their_time(
    client: Client, conn: asyncpg.Connection, settings: Settings
) -> None:
    await invited(conn)
    await conn.execute("UPDATE customers SET locale = 'de', time_zone = 'Europe/Berlin'")
    await conn.execute("UPDATE invitations SET locale = 'de'")
    [reply] = await text(client, conn, settings, "Rückruf bitte")
    opened = await task(conn)
    assert reply.body == confirmation(opened["deadline_at"], locale="de", zone="Europe/Berlin")
    assert reply.body.startswith("Danke. Jemand von")
    assert reply.body.endswith(("MEZ bei Ihnen.", "MESZ bei Ihnen."))


async def test_at_a_moment_of_truth_the_promise_is_the_shorter_one(
    client: Client, conn: asyncpg.Connection, settings: Settings
) -> None:
    ids = await invited(conn)
    interaction = await conn.fetchval(
        "INSERT INTO interactions (customer_id, touchpoint, critical, occurred_at) "
        "VALUES ($1, 'delivery', true, now()) RETURNING id",
        ids["customer_id"],
    )
    await conn.execute("UPDATE invitations SET interaction_id = $1", interaction)
    before = datetime.now(UTC)
    await text(client, conn, settings, "call me")
    opened = await task(conn)
    assert before + timedelta(hours=2) <= opened["deadline_at"] <= datetime.now(UTC) + timedelta(hours=2)


async def test_a_known_customer_without_a_conversation_can_ask_too(
    client: Client, conn: asyncpg.Connection, settings: Settings
) -> None:
    customer_id = await conn.fetchval(
        "INSERT INTO customers (external_id, phone) VALUES ('crm-2', $1) RETURNING id", PHONE
    )
    [reply] = await text(client, conn, settings, "CONTACT ME")
    opened = await task(conn)
    assert (opened["customer_id"], opened["trigger"]) == (customer_id, "contact_requested")
    assert reply.body == confirmation(opened["deadline_at"])
    assert await conn.fetchval("SELECT count(*) FROM sms_conversations") == 0


async def test_an_unknown_number_gets_the_help_text_once_and_no_task(
    client: Client, conn: asyncpg.Connection, settings: Settings
) -> None:
    [reply] = await text(client, conn, settings, "CALL ME")
    assert reply.body == texts.help_text(locale=None, brand=BRAND)
    assert await text(client, conn, settings, "CALL ME") == []
    assert await conn.fetchval("SELECT count(*) FROM recovery_tasks") == 0
    assert (await outcomes(conn))[0] == "contact:unknown_number"


async def test_an_opted_out_number_gets_its_task_but_no_text(
    client: Client, conn: asyncpg.Connection, settings: Settings
) -> None:
    await invited(conn)
    await conn.execute(
        "INSERT INTO suppressions (channel, address, reason) VALUES ('sms', $1, 'complaint')", PHONE
    )
    assert await text(client, conn, settings, "call me") == []
    assert (await task(conn))["trigger"] == "contact_requested"
    assert await outcomes(conn) == ["contact:opted_out"]
    assert await sends(conn) == []


async def test_a_redelivered_message_opens_one_task_and_a_second_request_keeps_the_promise(
    client: Client, conn: asyncpg.Connection, settings: Settings
) -> None:
    await invited(conn)
    params = message("CALL ME")
    await receive(client, params)
    await receive(client, params)  # the provider sends the webhook again
    [first] = await process_inbound(conn, params["MessageSid"], settings=settings, now=datetime.now(UTC))
    assert await process_inbound(conn, params["MessageSid"], settings=settings, now=datetime.now(UTC)) == []
    opened = await task(conn)
    assert len(await evidence(conn)) == 1

    # asked again an hour later: the same task, the promise already made
    [again] = await text(client, conn, settings, "call me please")
    assert (await task(conn))["deadline_at"] == opened["deadline_at"]
    assert again.body == first.body == confirmation(opened["deadline_at"])
    replies: list[dict[str, Any]] = await sends(conn)
    assert len(replies) == 2


async def test_with_the_contact_rule_off_nothing_is_promised(
    client: Client, conn: asyncpg.Connection, settings: Settings
) -> None:
    await invited(conn)
    await conn.execute("UPDATE recovery_rules SET enabled = false WHERE trigger = 'contact_requested'")
    [reply] = await text(client, conn, settings, "call me")
    assert reply.body == texts.thanks(locale="en")
    assert await conn.fetchval("SELECT count(*) FROM recovery_tasks") == 0
    assert await outcomes(conn) == ["contact:rule_off"]


@pytest.mark.parametrize("word", ["STOP", "HELP"])
async def test_carrier_keywords_still_win_over_everything(
    client: Client, conn: asyncpg.Connection, settings: Settings, word: str
) -> None:
    await invited(conn)
    await text(client, conn, settings, word)
    assert await conn.fetchval("SELECT count(*) FROM recovery_tasks") == 0
