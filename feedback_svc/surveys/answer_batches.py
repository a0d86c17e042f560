"""The two hot answers with group commit (lib/group_commit.py): the web form's and the API's keyed one.

Concurrent answers share one statement and one commit (answer_batches.sql); each is answered
exactly as its own one-answer statement would have answered it: the same row back, or None
when nothing was written (the caller then finds out why the usual way), or its own error.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

import asyncpg
import msgspec

from feedback_svc.db.sql import load_queries
from feedback_svc.lib.group_commit import RETRY, GroupCommit, Many, One
from feedback_svc.lib.idempotency import KeyToClaim
from feedback_svc.outbox.events import EVENT_TOPIC
from feedback_svc.surveys import keyed_answers
from feedback_svc.surveys.keyed_answers import KeyedAnswer
from feedback_svc.surveys.schemas import ResponseCreate
from feedback_svc.surveys.service import answer_by_token, clean_comment, kinds_admitting

Q = load_queries(Path(__file__).with_name("answer_batches.sql"))

T = TypeVar("T")
R = TypeVar("R")


class KeyedItem(NamedTuple):
    data: ResponseCreate
    claim: KeyToClaim
    now: datetime


class FormItem(NamedTuple):
    token_hash: bytes
    score: int
    comment: str
    contact_requested: bool
    now: datetime


def _given(value: Any) -> Any:
    return None if value is msgspec.UNSET else value


async def _one_keyed(conn: asyncpg.Connection, item: KeyedItem) -> KeyedAnswer | None:
    return await keyed_answers.record_api_response(conn, item.data, item.claim, now=item.now)


async def _many_keyed(conn: asyncpg.Connection, items: Sequence[KeyedItem]) -> list[KeyedAnswer | None]:
    # every lock wait is the same constant; the statement sets one for all its keys
    (lock_wait,) = {item.claim.lock_wait for item in items}
    rows = await conn.fetch(
        Q["record_api_responses_keyed"],
        [uuid.uuid4() for _ in items],
        [_given(item.data.customer_id) for item in items],
        [_given(item.data.customer_external_id) for item in items],
        [item.data.survey for item in items],
        [",".join(kinds_admitting(item.data.score)) for item in items],
        [item.data.score for item in items],
        [clean_comment(item.data.comment) for item in items],
        [item.data.contact_requested for item in items],
        [item.data.answered_at or item.now for item in items],
        EVENT_TOPIC,
        [item.claim.api_key_id for item in items],
        [item.claim.key for item in items],
        [item.claim.method for item in items],
        [item.claim.path for item in items],
        [item.claim.request_hash for item in items],
        [item.claim.keep_for for item in items],
        lock_wait,
    )
    answers: list[KeyedAnswer | None] = [None] * len(items)
    for row in rows:
        answers[row["n"] - 1] = KeyedAnswer(
            row["response_status"], row["response_body"], row["kind"], row["channel"]
        )
    return answers


async def _one_form(conn: asyncpg.Connection, item: FormItem) -> dict[str, Any] | None:
    return await answer_by_token(
        conn,
        token_hash=item.token_hash,
        score=item.score,
        comment=item.comment,
        contact_requested=item.contact_requested,
        now=item.now,
    )


async def _many_form(conn: asyncpg.Connection, items: Sequence[FormItem]) -> list[dict[str, Any] | None]:
    rows = await conn.fetch(
        Q["answer_invitations_by_token"],
        [item.token_hash for item in items],
        [item.score for item in items],
        [",".join(kinds_admitting(item.score)) for item in items],
        [clean_comment(item.comment) for item in items],
        [item.contact_requested for item in items],
        [item.now for item in items],
        EVENT_TOPIC,
    )
    answers: list[dict[str, Any] | None] = [None] * len(items)
    for row in rows:
        answer = dict(row)
        answers[answer.pop("n") - 1] = answer
    return answers


class _Lanes(Generic[T, R]):
    """One kind of answer: shared statements, and its own statement when a batch was refused."""

    def __init__(self, pool: asyncpg.Pool, *, one: One[T, R], many: Many[T, R], lanes: int) -> None:
        self._pool = pool
        self._one = one
        self._group = GroupCommit(pool, one=one, many=many, lanes=lanes)

    async def write(self, item: T) -> R:
        outcome = await self._group.write(item)
        if outcome is RETRY:
            async with self._pool.acquire() as conn:
                return await self._one(conn, item)
        return outcome

    @property
    def waiting(self) -> int:
        return self._group.waiting

    async def close(self) -> None:
        await self._group.close()


class AnswerLanes:
    """Build one per app (its pool) and close it before the pool."""

    def __init__(self, pool: asyncpg.Pool, *, lanes: int = 2) -> None:
        self._pool = pool
        self._keyed = _Lanes(pool, one=_one_keyed, many=_many_keyed, lanes=lanes)
        self._form = _Lanes(pool, one=_one_form, many=_many_form, lanes=lanes)

    async def record_api_response(
        self, data: ResponseCreate, claim: KeyToClaim, *, now: datetime
    ) -> KeyedAnswer | None:
        """keyed_answers.record_api_response; answers by customer share statements."""
        if keyed_answers.applies(data, now) and keyed_answers.by_customer(data):
            return await self._keyed.write(KeyedItem(data, claim, now))
        async with self._pool.acquire() as conn:
            return await keyed_answers.record_api_response(conn, data, claim, now=now)

    async def answer_by_token(
        self, *, token_hash: bytes, score: int, comment: str, contact_requested: bool, now: datetime
    ) -> dict[str, Any] | None:
        """service.answer_by_token, sharing statements."""
        return await self._form.write(FormItem(token_hash, score, comment, contact_requested, now))

    @property
    def waiting(self) -> int:
        """Answers queued for a lane: every lane is busy."""
        return self._keyed.waiting + self._form.waiting

    async def close(self) -> None:
        await self._keyed.close()
        await self._form.close()
