"""The API's answer with an Idempotency-Key as one statement: answer, event, key and reply.

`service.record_api_response` inside `run_idempotent`'s transaction takes five round trips
(BEGIN, the key's claim, the answer, the reply, COMMIT); this takes one. Anything unusual
(an error to explain, a key already used) writes nothing here and takes that usual path.
"""

from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import asyncpg
import msgspec

from feedback_svc.db.sql import load_queries
from feedback_svc.lib.idempotency import KeyToClaim
from feedback_svc.outbox.events import EVENT_TOPIC
from feedback_svc.surveys.schemas import ResponseCreate
from feedback_svc.surveys.service import clean_comment, kinds_admitting, now_utc

Q = load_queries(Path(__file__).with_name("keyed_answers.sql"))

# clean_comment's limit: a longer comment is refused, in its turn, by the usual path
MAX_COMMENT = 5000
# as service.record_api_response: answered_at at most 5 minutes ahead
FUTURE_SLACK = timedelta(minutes=5)


class KeyedAnswer(NamedTuple):
    status: int
    body: bytes
    kind: str
    channel: str


def applies(data: ResponseCreate, now: datetime) -> bool:
    """False for what these statements leave to the usual path: a comment or a time it refuses."""
    answered_at = data.answered_at or now
    return (
        not (data.comment is not None and len(data.comment) > MAX_COMMENT)
        and answered_at <= now + FUTURE_SLACK
    )


def by_customer(data: ResponseCreate) -> bool:
    """An answer without an invitation, naming its survey and exactly one of the customer's ids."""
    return (
        data.invitation_id is msgspec.UNSET
        and data.survey is not msgspec.UNSET
        and (data.customer_id is msgspec.UNSET) != (data.customer_external_id is msgspec.UNSET)
    )


async def record_api_response(
    conn: asyncpg.Connection, data: ResponseCreate, claim: KeyToClaim, *, now: datetime | None = None
) -> KeyedAnswer | None:
    """The answer stored with its key and reply, or None when this statement does not apply or
    wrote nothing (service.record_api_response then runs in the usual transaction)."""
    now = now or now_utc()
    answered_at = data.answered_at or now
    if not applies(data, now):
        return None
    key = (
        claim.api_key_id,
        claim.key,
        claim.method,
        claim.path,
        claim.request_hash,
        claim.keep_for,
        claim.lock_wait,
    )
    kinds = kinds_admitting(data.score)
    comment = clean_comment(data.comment)
    if data.invitation_id is not msgspec.UNSET:
        row = await conn.fetchrow(
            Q["answer_invitation_keyed"],
            None,  # the token's hash: the survey page's way in
            data.invitation_id,
            now,
            data.score,
            kinds,
            comment,
            data.contact_requested,
            "api",
            answered_at,
            EVENT_TOPIC,
            *key,
        )
    elif not by_customer(data):
        return None
    else:
        has_id = data.customer_id is not msgspec.UNSET
        row = await conn.fetchrow(
            Q["record_api_response_keyed"],
            data.customer_id if has_id else None,
            None if has_id else data.customer_external_id,
            data.survey,
            kinds,
            data.score,
            comment,
            data.contact_requested,
            answered_at,
            EVENT_TOPIC,
            *key,
        )
    if row is None:
        return None
    return KeyedAnswer(row["response_status"], row["response_body"], row["kind"], row["channel"])
