"""Customers' SMS replies: stored by the webhook, read here by the outbox worker.

One conversation per number (sms_conversations): it waits for a score, then for the reason,
then is closed. Carrier keywords (STOP, START, HELP) and "contact me" (CALL, RÜCKRUF and the
other words in replies.CONTACT_WORDS) win in every state. Each inbound message
gets at most one reply, sent through the outbox ("sms.send") rather than as TwiML, so a
reply is retried like any other send and never sent twice.

Decisions worth knowing:
- A second invalid score reply, anything sent to a closed conversation and a second STOP get
  no reply: we text a customer only when it helps them.
- A number with no open conversation (unknown, or its invitation expired) gets the help text
  once; its conversation is then closed and further messages get nothing.
- While the number is opted out (a suppression other than an sms_stop we just lifted),
  answers are still stored but no reply goes out; STOP's own confirmation is the exception.
- "Contact me" opens (or joins) the same highest-urgency contact_requested task as the survey
  page's checkbox, in this transaction, with the deadline counted from the message; the reply
  promises that deadline in the customer's time zone. Sent with an answer to the conversation's
  invitation still open for edits, it is also marked on that answer (as the checkbox would, so
  the CRM's response.updated says so); "2 call me" is a score with the request. It leaves the
  conversation where it was: a score or a reason can still follow. A number we know no
  customer by gets the help text, once.
"""

from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import structlog

from feedback_svc.db.sql import load_queries
from feedback_svc.delivery.sms import texts
from feedback_svc.delivery.sms.replies import (
    CommentReply,
    InvalidReply,
    KeywordReply,
    ScoreReply,
    parse_comment,
    parse_keyword,
    parse_reply,
)
from feedback_svc.i18n.dates import format_moment
from feedback_svc.lib.errors import Conflict
from feedback_svc.metrics.collector import count_answer
from feedback_svc.outbox.events import EVENT_TOPIC
from feedback_svc.outbox.queries import enqueue
from feedback_svc.recovery.triggers import RecoveryTriggers, promised_contact
from feedback_svc.settings import DEFAULT_BRAND, Settings
from feedback_svc.surveys import queries
from feedback_svc.surveys.messages import survey_texts
from feedback_svc.surveys.schemas import SurveyResponse
from feedback_svc.surveys.service import answer_invitation, invitation_is_open

Q = load_queries(Path(__file__).with_name("sms_inbound.sql"))
log = structlog.get_logger(__name__)

INBOUND_TOPIC = "sms.inbound"
SEND_TOPIC = "sms.send"
# the default sender name (FEEDBACK_BRAND_NAME overrides it per deployment)
BRAND = DEFAULT_BRAND
MAX_COMMENT = 5000


class OutgoingSms(msgspec.Struct, frozen=True, kw_only=True):
    """One reply to send; the idempotency key goes to the provider with every attempt."""

    to: str
    body: str
    idempotency_key: str


class _Outcome(msgspec.Struct, frozen=True):
    outcome: str
    reply: str | None = None


class _Context(msgspec.Struct, kw_only=True):
    phone: str
    conversation: dict[str, Any] | None
    invitation: dict[str, Any] | None
    customer_id: UUID | None
    locale: str | None
    time_zone: str | None
    brand: str
    settings: Settings
    now: datetime


async def store_inbound(conn: asyncpg.Connection, *, message_sid: str, from_phone: str, body: str) -> bool:
    """Keep a webhook's message and queue its processing (call inside a transaction).

    False when this MessageSid was stored before: a redelivery changes nothing.
    """
    stored = await conn.fetchval(Q["insert_inbound_message"], message_sid, from_phone, body, None)
    if stored is None:
        return False
    await enqueue(
        conn,
        topic=INBOUND_TOPIC,
        payload={"message_sid": message_sid},
        ordering_key=from_phone,
        dedupe_key=f"{INBOUND_TOPIC}:{message_sid}",
    )
    return True


async def process_inbound(
    conn: asyncpg.Connection, message_sid: str, *, settings: Settings, now: datetime, brand: str | None = None
) -> list[OutgoingSms]:
    """Act on a stored message (and any earlier unprocessed ones from the same number).

    The replies returned are already queued on "sms.send" in this transaction; they are
    signed with `brand`, by default the deployment's FEEDBACK_BRAND_NAME.
    """
    brand = brand or settings.brand_name
    async with conn.transaction():
        message = await conn.fetchrow(Q["inbound_message"], message_sid)
        if message is None or message["processed_at"] is not None:
            return []
        phone = message["from_phone"]
        await conn.execute(Q["lock_phone"], phone)
        pending = await conn.fetch(Q["pending_messages_upto"], phone, message["received_at"], message_sid)
        replies: list[OutgoingSms] = []
        for row in pending:
            sid = row["provider_message_id"]
            result = await _handle(
                conn, phone=phone, body=row["body"], brand=brand, settings=settings, sid=sid, now=now
            )
            await conn.execute(Q["mark_message_processed"], sid, now, result.outcome)
            log.info("sms_inbound_processed", message_sid=sid, outcome=result.outcome)
            if result.reply is not None:
                reply = OutgoingSms(to=phone, body=result.reply, idempotency_key=f"sms-reply:{sid}")
                await enqueue(
                    conn,
                    topic=SEND_TOPIC,
                    payload=msgspec.to_builtins(reply),
                    ordering_key=phone,
                    dedupe_key=f"{SEND_TOPIC}:reply:{sid}",
                )
                replies.append(reply)
        return replies


async def _handle(
    conn: asyncpg.Connection,
    *,
    phone: str,
    body: str,
    brand: str,
    settings: Settings,
    sid: str,
    now: datetime,
) -> _Outcome:
    context = await _context(conn, phone=phone, brand=brand, settings=settings, now=now)
    keyword = parse_keyword(body)
    if keyword is not None and keyword.keyword == "contact":
        return await _contact(conn, context, sid=sid)
    if keyword is not None:
        return await _keyword(conn, context, keyword)
    result = await _converse(conn, context, body)
    if result.reply is not None and await conn.fetchval(Q["sms_suppressed"], phone):
        return _Outcome(f"{result.outcome}:opted_out")
    return result


async def _context(
    conn: asyncpg.Connection, *, phone: str, brand: str, settings: Settings, now: datetime
) -> _Context:
    record = await conn.fetchrow(Q["conversation_for_phone"], phone)
    conversation = dict(record) if record is not None else None
    invitation = None
    if conversation is not None and conversation["invitation_id"] is not None:
        invitation = await queries.invitation_by_id(conn, conversation["invitation_id"])
    if invitation is not None:
        customer_id, locale, time_zone = (
            invitation["customer_id"],
            invitation["locale"],
            invitation["time_zone"],
        )
    else:
        customer = await conn.fetchrow(Q["customer_for_phone"], phone)
        customer_id, locale, time_zone = (
            (customer["id"], customer["locale"], customer["time_zone"]) if customer else (None, None, None)
        )
    return _Context(
        phone=phone,
        conversation=conversation,
        invitation=invitation,
        customer_id=customer_id,
        locale=locale,
        time_zone=time_zone,
        brand=brand,
        settings=settings,
        now=now,
    )


async def _keyword(conn: asyncpg.Connection, context: _Context, keyword: KeywordReply) -> _Outcome:
    if keyword.keyword == "stop":
        return await _stop(conn, context)
    if keyword.keyword == "start":
        await conn.fetch(Q["lift_sms_suppression"], context.phone, context.now)
        if await conn.fetchval(Q["sms_suppressed"], context.phone):
            return _Outcome("start:still_suppressed")  # an operator's suppression is not the customer's
        return _Outcome("start", texts.start_confirmation(locale=context.locale, brand=context.brand))
    return _Outcome("help", texts.help_text(locale=context.locale, brand=context.brand))


async def _contact(conn: asyncpg.Connection, context: _Context, *, sid: str) -> _Outcome:
    """'Call me': the contact_requested task, confirmed with the deadline it promises."""
    if context.customer_id is None:
        if context.conversation is not None and context.conversation["state"] == "closed":
            return _Outcome("contact:unknown_number:ignored")  # it had its help text
        return await _no_conversation(conn, context, "contact:unknown_number")
    # the survey the conversation is about, while it is open: its answer and touchpoint count
    invitation = context.invitation
    if invitation is not None and not invitation_is_open(invitation, context.now):
        invitation = None
    deadline = await RecoveryTriggers(context.settings).on_contact_request(
        conn,
        customer_id=context.customer_id,
        response_id=await _request_on_answer(conn, invitation, now=context.now) if invitation else None,
        touchpoint=invitation["touchpoint"] if invitation else None,
        at=context.now,
        details={
            "channel": "sms",
            "via": "sms_keyword",
            "message_sid": sid,
            "invitation_id": str(invitation["id"]) if invitation else None,
            "requested_at": context.now,
        },
    )
    outcome = "contact" if deadline is not None else "contact:rule_off"
    if await conn.fetchval(Q["sms_suppressed"], context.phone):
        return _Outcome(f"{outcome}:opted_out")
    if deadline is None:
        return _Outcome(outcome, texts.thanks(locale=context.locale))
    contact_by = format_moment(deadline, locale=context.locale, time_zone=context.time_zone, compact=True)
    return _Outcome(
        outcome, texts.contact_confirmation(locale=context.locale, brand=context.brand, contact_by=contact_by)
    )


async def _request_on_answer(
    conn: asyncpg.Connection, invitation: dict[str, Any], *, now: datetime
) -> UUID | None:
    """Mark the request on the answer to `invitation`, as the checkbox would; the answer's id,
    or None when there is none or its edit window has closed."""
    response = await queries.response_by_invitation(conn, invitation["id"])
    if response is None:
        return None
    try:
        async with conn.transaction():  # a savepoint: a closed window leaves nothing behind
            answer, _ = await answer_invitation(
                conn,
                invitation,
                score=response["score"],
                comment=response["comment"],
                contact_requested=True,
                channel="sms",
                now=now,
            )
    except Conflict:
        return None
    return answer.id


async def _stop(conn: asyncpg.Connection, context: _Context) -> _Outcome:
    if context.conversation is not None and context.conversation["state"] != "closed":
        await _set_state(conn, context, "closed")
    suppression_id = await conn.fetchval(
        Q["insert_sms_stop"], context.phone, context.customer_id, context.now
    )
    if suppression_id is None:
        return _Outcome("stop:already_opted_out")
    customer_id = str(context.customer_id) if context.customer_id else None
    await enqueue(
        conn,
        topic=EVENT_TOPIC,
        payload={
            "type": "customer.opted_out",
            "data": {
                "customer_id": customer_id,
                "channel": "sms",
                "address": context.phone,
                "reason": "sms_stop",
                "opted_out_at": context.now.isoformat(),
            },
        },
        ordering_key=customer_id or context.phone,
        dedupe_key=f"customer.opted_out:{suppression_id}",
    )
    return _Outcome("stop", texts.stop_confirmation(locale=context.locale, brand=context.brand))


async def _converse(conn: asyncpg.Connection, context: _Context, body: str) -> _Outcome:
    conversation, invitation = context.conversation, context.invitation
    if conversation is not None and conversation["state"] == "closed":
        return _Outcome("ignored:closed")
    if conversation is None or invitation is None:
        return await _no_conversation(conn, context, "no_conversation")
    if conversation["state"] == "awaiting_reason":
        return await _reason(conn, context, body)
    if not invitation_is_open(invitation, context.now):
        return await _no_conversation(conn, context, "invitation_closed")
    return await _score(conn, context, body)


async def _no_conversation(conn: asyncpg.Connection, context: _Context, outcome: str) -> _Outcome:
    # Closed at once, so a number we cannot help gets this text one time only.
    await conn.execute(Q["close_unknown_conversation"], context.phone, context.now)
    return _Outcome(outcome, texts.help_text(locale=context.locale, brand=context.brand))


async def _score(conn: asyncpg.Connection, context: _Context, body: str) -> _Outcome:
    invitation = context.invitation
    assert invitation is not None
    reply = parse_reply(body, scale=texts.SCALES[invitation["kind"]])
    if isinstance(reply, InvalidReply):
        if context.conversation and context.conversation["reprompted"]:
            return _Outcome(f"invalid:{reply.reason}:ignored")
        await _set_state(conn, context, "awaiting_score", reprompted=True)
        return _Outcome(
            f"invalid:{reply.reason}:reprompted",
            texts.reprompt(locale=context.locale, kind=invitation["kind"]),
        )
    assert isinstance(reply, ScoreReply)
    # "2 call me": a score, and the request the survey page's checkbox makes
    contact = reply.comment is not None and parse_keyword(reply.comment) == KeywordReply(keyword="contact")
    try:
        answer, inserted = await answer_invitation(
            conn,
            invitation,
            score=reply.score,
            comment=_trim(reply.comment),
            contact_requested=contact,
            channel="sms",
            now=context.now,
        )
    except Conflict:
        await _set_state(conn, context, "closed")
        return _Outcome("score:answer_closed")
    if inserted:  # counted inside the transaction: a rollback here would overcount by one, rarely
        count_answer(channel="sms", kind=answer.kind)
    if reply.comment is None and invitation["purpose"] != "pulse":
        await _set_state(conn, context, "awaiting_reason")
        return _Outcome("score", texts.ask_reason(locale=context.locale))
    if reply.comment is None:  # a pulse asks the score alone
        await _set_state(conn, context, "closed")
        return _Outcome("score", _thanks(context))
    await _set_state(conn, context, "closed")
    return await _thanks_for_comment(conn, context, answer, contact=contact)


async def _thanks_for_comment(
    conn: asyncpg.Connection, context: _Context, answer: SurveyResponse, *, contact: bool
) -> _Outcome:
    """Thanks for a score with its reason; with "call me", the promise the task will keep (it
    opens from the answer's event, with the deadline the survey page would promise)."""
    if not contact:
        return _Outcome("score_with_comment", _thanks(context))
    deadline = await promised_contact(
        conn,
        customer_id=answer.customer_id,
        touchpoint=answer.touchpoint,
        at=answer.answered_at,
        high_value=context.settings.recovery_high_value,
    )
    contact_by = (
        format_moment(deadline, locale=context.locale, time_zone=context.time_zone, compact=True)
        if deadline
        else None
    )
    return _Outcome("score_with_contact", _thanks(context, contact_by=contact_by))


def _thanks(context: _Context, *, contact_by: str | None = None) -> str:
    """Thanks for an answer: the survey version's own thank-you text where it has one."""
    own = survey_texts(context.invitation, brand=context.brand).thanks if context.invitation else None
    return texts.thanks(locale=context.locale, contact_by=contact_by, own=own)


async def _reason(conn: asyncpg.Connection, context: _Context, body: str) -> _Outcome:
    invitation = context.invitation
    assert invitation is not None
    answer = parse_comment(body)
    if not isinstance(answer, CommentReply):
        return _Outcome("comment:empty")
    response = await queries.response_by_invitation(conn, invitation["id"])
    if response is None:
        await _set_state(conn, context, "closed")
        return _Outcome("comment:no_answer")
    try:
        await answer_invitation(
            conn,
            invitation,
            score=response["score"],
            comment=_trim(answer.comment),
            contact_requested=False,  # the upsert keeps an earlier request for contact
            channel="sms",
            now=context.now,
        )
    except Conflict:
        await _set_state(conn, context, "closed")
        return _Outcome("comment:answer_closed")
    await _set_state(conn, context, "closed")
    return _Outcome("comment", _thanks(context))


async def _set_state(
    conn: asyncpg.Connection, context: _Context, state: str, *, reprompted: bool | None = None
) -> None:
    assert context.conversation is not None
    flag = context.conversation["reprompted"] if reprompted is None else reprompted
    await conn.execute(Q["update_conversation"], context.phone, state, flag, context.now)


def _trim(comment: str | None) -> str | None:
    # An SMS is at most 1600 characters, but the webhook stores what it is sent.
    return None if comment is None else comment[:MAX_COMMENT]
