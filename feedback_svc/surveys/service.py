"""The rules of surveys: who is invited when, and how an answer is stored exactly once."""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import msgspec

from feedback_svc.customers.locks import erased, lock_for_write
from feedback_svc.customers.service import resolve_customer_id
from feedback_svc.lib.errors import Conflict, InvalidInput, NotFound
from feedback_svc.outbox.events import EVENT_TOPIC
from feedback_svc.outbox.queries import enqueue
from feedback_svc.surveys import queries
from feedback_svc.surveys.rules import Contact, Purpose, decide
from feedback_svc.surveys.schemas import (
    Interaction,
    InteractionCreate,
    InteractionRecorded,
    Invitation,
    InvitationCreate,
    ResponseCreate,
    SurveyResponse,
)
from feedback_svc.surveys.texts import SCALES
from feedback_svc.surveys.tokens import hash_token, token_for

# when a touchpoint has no rule of its own
DEFAULT_SURVEY = "nps"
DEFAULT_DELAY = timedelta(hours=1)
SEND_TOPIC = "invitation.send"


def now_utc() -> datetime:
    return datetime.now(UTC)


def check_score(kind: str, score: int) -> None:
    low, high = SCALES[kind]
    if not low <= score <= high:
        raise InvalidInput(
            f"A {kind.upper()} score is between {low} and {high}; got {score}.",
            errors=[{"field": "score", "message": f"must be between {low} and {high} for {kind}"}],
        )


def kinds_admitting(score: int) -> list[str]:
    """The survey kinds whose scale admits `score`: lets one statement check it without a lookup."""
    return [kind for kind, (low, high) in SCALES.items() if low <= score <= high]


def clean_comment(comment: str | None) -> str | None:
    """Plain text: control characters other than newlines and tabs are dropped."""
    if comment is None:
        return None
    text = "".join(ch for ch in comment if ch in "\n\t" or ch.isprintable()).strip()
    if len(text) > 5000:
        raise InvalidInput(
            f"The comment is {len(text)} characters long; the limit is 5000.",
            errors=[{"field": "comment", "message": "at most 5000 characters"}],
        )
    return text or None


def _invitation(row: dict[str, Any], *, survey: str, kind: str, survey_url: str | None = None) -> Invitation:
    return Invitation(
        id=row["id"],
        customer_id=row["customer_id"],
        survey=survey,
        kind=kind,  # type: ignore[arg-type]
        channel=row["channel"],
        status=row["status"],
        reason=row["reason"],
        send_at=row["send_at"],
        sent_at=row["sent_at"],
        expires_at=row["expires_at"],
        created_at=row["created_at"],
        survey_url=survey_url,
    )


async def invite(
    conn: asyncpg.Connection,
    *,
    customer: asyncpg.Record,
    survey_key: str,
    preference: str | None,
    interaction_id: UUID | None,
    earliest: datetime,
    base_url: str,
    secret_key: str,
    now: datetime,
    purpose: Purpose = "survey",
    recovery_task_id: UUID | None = None,
    cooldown: timedelta | None = None,
) -> Invitation:
    """Decide and record one invitation (call inside a transaction that locked the customer
    exclusively first: `customer` is that row). A pulse (`purpose`) names its recovery task;
    `cooldown` is a touchpoint's own, where its rule sets one (else the survey's)."""
    survey = await queries.get_survey(conn, survey_key)
    if survey is None:
        raise InvalidInput(
            f"No survey {survey_key!r}; GET /v1/surveys lists them.",
            errors=[{"field": "survey", "message": "unknown survey"}],
        )
    if not survey["active"]:
        raise Conflict(
            f"Survey {survey_key!r} is retired: it sends no new invitations. GET /v1/surveys lists "
            "the active ones."
        )
    customer_id = customer["id"]
    decision = decide(
        contact=Contact(email=customer["email"], phone=customer["phone"], time_zone=customer["time_zone"]),
        preference=preference,  # type: ignore[arg-type]
        opted_out=await queries.opted_out_channels(conn, email=customer["email"], phone=customer["phone"]),
        last_invited_at=await queries.last_invited_at(conn, customer_id),
        cooldown=survey["cooldown"] if cooldown is None else cooldown,
        earliest=earliest,
        now=now,
        purpose=purpose,
    )
    # the token is derived from the id (see tokens.py); only its hash is stored
    invitation_id = uuid4()
    token = token_for(secret_key, invitation_id)
    row = await queries.insert_invitation(
        conn,
        invitation_id=invitation_id,
        survey_id=survey["id"],
        customer_id=customer_id,
        interaction_id=interaction_id,
        channel=decision.channel,
        token_hash=hash_token(token) if decision.status != "suppressed" else None,
        status=decision.status,
        reason=decision.reason,
        locale=customer["locale"],
        send_at=decision.send_at,
        sent_at=now if decision.status == "sent" else None,
        expires_at=(decision.send_at or now) + survey["token_ttl"],
        purpose=purpose,
        recovery_task_id=recovery_task_id,
    )
    if decision.status in ("queued", "scheduled"):
        await enqueue(
            conn,
            topic=SEND_TOPIC,
            payload={"invitation_id": str(row["id"])},
            ordering_key=str(customer_id),
            dedupe_key=f"{SEND_TOPIC}:{row['id']}",
            run_after=decision.send_at,
        )
    # only the CRM showing the link itself gets it; email and SMS carry it to the customer
    url = f"{base_url}/s/{token}" if decision.channel == "web" else None
    return _invitation(row, survey=survey["key"], kind=survey["kind"], survey_url=url)


async def record_interaction(
    conn: asyncpg.Connection,
    data: InteractionCreate,
    *,
    base_url: str,
    secret_key: str,
    now: datetime | None = None,
) -> InteractionRecorded:
    now = now or now_utc()
    customer_id = await resolve_customer_id(conn, data)
    # before the insert below takes its own (weaker) lock: see customers/locks.py
    customer = await lock_for_write(conn, customer_id, exclusive=True)
    rule = await queries.get_touchpoint(conn, data.touchpoint)
    survey_key = rule["survey_key"] if rule else DEFAULT_SURVEY
    no_survey = await _no_survey_reason(conn, data.touchpoint, rule, survey_key)
    row = await queries.insert_interaction(
        conn,
        customer_id=customer_id,
        external_id=data.external_id,
        touchpoint=data.touchpoint,
        critical=bool(rule and rule["critical"]),
        occurred_at=data.occurred_at,
        channel_preference=data.channel_preference,
        agent=data.agent,
        attributes={} if data.attributes is msgspec.UNSET else data.attributes,
        no_survey_reason=no_survey,
    )
    interaction = msgspec.convert({k: row[k] for k in Interaction.__struct_fields__}, Interaction)
    if not row["inserted"]:
        # the CRM sent this interaction before: answer as the first time
        existing = await queries.invitation_for_interaction(conn, row["id"])
        invitation = (
            _invitation(existing, survey=existing["survey"], kind=existing["kind"]) if existing else None
        )
        return InteractionRecorded(
            interaction=interaction,
            invitation=invitation,
            replayed=True,
            no_survey_reason=row["no_survey_reason"],
        )
    if no_survey is not None:
        return InteractionRecorded(interaction=interaction, invitation=None, no_survey_reason=no_survey)
    delay = rule["invite_delay"] if rule else DEFAULT_DELAY
    invitation = await invite(
        conn,
        customer=customer,
        survey_key=survey_key,
        # the CRM's preference for this interaction, else the touchpoint's
        preference=data.channel_preference or (rule["channel_preference"] if rule else None),
        interaction_id=row["id"],
        earliest=data.occurred_at + delay,
        base_url=base_url,
        secret_key=secret_key,
        now=now,
        cooldown=rule["cooldown"] if rule else None,
    )
    return InteractionRecorded(interaction=interaction, invitation=invitation)


async def _no_survey_reason(
    conn: asyncpg.Connection, touchpoint: str, rule: dict[str, Any] | None, survey_key: str | None
) -> str | None:
    """Why an interaction at `touchpoint` gets no survey (stored with it), or None when it gets one."""
    if rule is not None and rule["retired_at"] is not None:
        return f"no survey: touchpoint {touchpoint} is retired"
    if survey_key is None:
        return "no survey: the touchpoint's rule sends none"
    active = rule["survey_active"] if rule is not None else await queries.survey_is_active(conn, survey_key)
    if not active:
        return f"no survey: survey {survey_key} is retired"
    return None


async def create_invitation(
    conn: asyncpg.Connection,
    data: InvitationCreate,
    *,
    base_url: str,
    secret_key: str,
    now: datetime | None = None,
) -> Invitation:
    now = now or now_utc()
    customer_id = await resolve_customer_id(conn, data)
    customer = await lock_for_write(conn, customer_id, exclusive=True)
    if data.interaction_id is not None:
        interaction = await queries.get_interaction(conn, data.interaction_id)
        if interaction is None or interaction["customer_id"] != customer_id:
            raise InvalidInput(
                f"Interaction {data.interaction_id} does not exist for this customer.",
                errors=[{"field": "interaction_id", "message": "unknown for this customer"}],
            )
    return await invite(
        conn,
        customer=customer,
        survey_key=data.survey,
        preference=data.channel,
        interaction_id=data.interaction_id,
        earliest=data.send_at or now,
        base_url=base_url,
        secret_key=secret_key,
        now=now,
    )


def _response(row: dict[str, Any], survey: str) -> SurveyResponse:
    fields = {k: row[k] for k in SurveyResponse.__struct_fields__ if k != "survey"}
    return msgspec.convert({**fields, "survey": survey}, SurveyResponse)


async def _emit_response_event(conn: asyncpg.Connection, response: SurveyResponse, *, created: bool) -> None:
    kind = "response.created" if created else "response.updated"
    await enqueue(
        conn,
        topic=EVENT_TOPIC,
        payload={"type": kind, "data": msgspec.to_builtins(response)},
        ordering_key=str(response.customer_id),
        dedupe_key=f"{kind}:{response.id}:{response.updated_at.isoformat()}",
    )


def invitation_is_open(invitation: dict[str, Any], now: datetime) -> bool:
    return (
        not invitation["erased"]
        and invitation["expires_at"] > now
        and invitation["status"] not in ("suppressed", "failed", "expired")
    )


async def answer_invitation(
    conn: asyncpg.Connection,
    invitation: dict[str, Any],
    *,
    score: int,
    comment: str | None,
    contact_requested: bool,
    channel: str,
    now: datetime,
) -> tuple[SurveyResponse, bool]:
    """Store (or edit) the answer to an invitation with its event (call inside a transaction)."""
    await lock_for_write(conn, invitation["customer_id"])
    check_score(invitation["kind"], score)
    row = await queries.upsert_invited_response(
        conn,
        invitation=invitation,
        score=score,
        comment=clean_comment(comment),
        contact_requested=contact_requested,
        channel=channel,
        answered_at=now,
    )
    if row is None:
        raise Conflict("This answer can no longer be changed: its edit window has closed.")
    response = _response(row, invitation["survey"])
    await _emit_response_event(conn, response, created=row["inserted"])
    return response, row["inserted"]


async def answer_by_token(
    conn: queries.Conn,
    *,
    token_hash: bytes,
    score: int,
    comment: str,
    contact_requested: bool,
    now: datetime,
) -> dict[str, Any] | None:
    """The survey page's answer as one statement (its own transaction, committed on return).

    Returns the stored answer with the invitation's locale, or None when nothing was written:
    the caller then finds out why the slow way, with the usual messages."""
    return await queries.answer_invitation(
        conn,
        token_hash=token_hash,
        now=now,
        score=score,
        kinds=kinds_admitting(score),
        comment=clean_comment(comment),
        contact_requested=contact_requested,
        channel=None,  # the invitation's own channel, or web
        answered_at=now,
        event_topic=EVENT_TOPIC,
    )


async def _record_api_response_at_once(
    conn: asyncpg.Connection, data: ResponseCreate, *, now: datetime, answered_at: datetime
) -> SurveyResponse | None:
    """The usual API answer as one statement; None when something is wrong, to be told the slow way."""
    if data.comment is not None and len(data.comment) > 5000:
        return None  # clean_comment's error, in its turn after the others
    comment = clean_comment(data.comment)
    if data.invitation_id is not msgspec.UNSET:
        row = await queries.answer_invitation(
            conn,
            invitation_id=data.invitation_id,  # type: ignore[arg-type]
            now=now,
            score=data.score,
            kinds=kinds_admitting(data.score),
            comment=comment,
            contact_requested=data.contact_requested,
            channel="api",
            answered_at=answered_at,
            event_topic=EVENT_TOPIC,
        )
        return _response(row, row["survey"]) if row is not None else None
    has_id = data.customer_id is not msgspec.UNSET
    if data.survey is msgspec.UNSET or has_id == (data.customer_external_id is not msgspec.UNSET):
        return None
    row = await queries.record_api_response(
        conn,
        customer_id=data.customer_id if has_id else None,  # type: ignore[arg-type]
        customer_external_id=None if has_id else data.customer_external_id,  # type: ignore[arg-type]
        survey_key=data.survey,  # type: ignore[arg-type]
        kinds=kinds_admitting(data.score),
        score=data.score,
        comment=comment,
        contact_requested=data.contact_requested,
        answered_at=answered_at,
        event_topic=EVENT_TOPIC,
    )
    return _response(row, row["survey"]) if row is not None else None


async def record_api_response(
    conn: asyncpg.Connection, data: ResponseCreate, *, now: datetime | None = None
) -> SurveyResponse:
    """An answer collected elsewhere; call inside a transaction.

    One statement does the usual case; when it writes nothing, the steps below run one by one
    to raise the precise error (or, after a race such as the customer created meanwhile, store
    the answer after all)."""
    now = now or now_utc()
    answered_at = data.answered_at or now
    if answered_at > now + timedelta(minutes=5):
        raise InvalidInput(
            "answered_at lies in the future.", errors=[{"field": "answered_at", "message": "in the future"}]
        )
    stored = await _record_api_response_at_once(conn, data, now=now, answered_at=answered_at)
    if stored is not None:
        return stored
    if data.invitation_id is not msgspec.UNSET:
        invitation = await queries.invitation_by_id(conn, data.invitation_id)  # type: ignore[arg-type]
        if invitation is None:
            raise NotFound(f"No invitation with id {data.invitation_id}.")
        if invitation["erased"]:
            raise erased(invitation["customer_id"])
        if not invitation_is_open(invitation, now):
            raise Conflict(f"Invitation {data.invitation_id} is {invitation['status']} or expired.")
        response, _ = await answer_invitation(
            conn,
            invitation,
            score=data.score,
            comment=data.comment,
            contact_requested=data.contact_requested,
            channel="api",
            now=answered_at,
        )
        return response
    if data.survey is msgspec.UNSET:
        raise InvalidInput(
            "Give invitation_id, or a customer and a survey.",
            errors=[{"field": "survey", "message": "required without invitation_id"}],
        )
    customer_id = await resolve_customer_id(conn, data)
    await lock_for_write(conn, customer_id)
    survey = await queries.get_survey(conn, data.survey)  # type: ignore[arg-type]
    if survey is None:
        raise InvalidInput(f"No survey {data.survey!r}.", errors=[{"field": "survey", "message": "unknown"}])
    check_score(survey["kind"], data.score)
    row = await queries.insert_response(
        conn,
        customer_id=customer_id,
        survey=survey,
        score=data.score,
        comment=clean_comment(data.comment),
        contact_requested=data.contact_requested,
        answered_at=answered_at,
    )
    response = _response(row, survey["key"])
    await _emit_response_event(conn, response, created=True)
    return response
