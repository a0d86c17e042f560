"""Invitations read back by the CRM: one by id, or pages of them, each with its history."""

import base64
import binascii
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from feedback_svc.customers import queries as customers
from feedback_svc.customers.locks import erased
from feedback_svc.db.sql import load_queries
from feedback_svc.lib.bounds import instant_in_range
from feedback_svc.lib.errors import InvalidInput, NotFound
from feedback_svc.surveys.schemas import InvitationEvent, InvitationPage, InvitationRecord

Q = load_queries(Path(__file__).with_name("reading.sql"))


class Filters(msgspec.Struct, frozen=True, kw_only=True):
    customer_id: UUID | None = None
    customer_external_id: str | None = None
    status: str | None = None
    channel: str | None = None
    survey: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


async def get_invitation(pool: asyncpg.Pool, invitation_id: UUID) -> InvitationRecord:
    row = await pool.fetchrow(Q["invitation_record"], invitation_id)
    if row is None:
        raise NotFound(f"No invitation with id {invitation_id}.")
    if row["erased"]:
        raise erased(row["customer_id"])
    [record] = await _with_histories(pool, [row])
    return record


async def list_invitations(
    pool: asyncpg.Pool, filters: Filters, *, cursor: str | None, limit: int
) -> InvitationPage:
    customer_id = await _customer(pool, filters)
    after_time, after_id = decode_cursor(cursor) if cursor else (None, None)
    rows = await pool.fetch(
        Q["list_invitation_records"],
        customer_id,
        filters.status,
        filters.channel,
        filters.survey,
        filters.created_after,
        filters.created_before,
        after_time,
        after_id,
        limit + 1,
    )
    page = await _with_histories(pool, rows[:limit])
    last = page[-1] if len(rows) > limit else None
    return InvitationPage(items=page, next_cursor=encode_cursor(last.created_at, last.id) if last else None)


async def _customer(pool: asyncpg.Pool, filters: Filters) -> UUID | None:
    """The customer the list is narrowed to: 404 for nobody, 410 for an erased customer."""
    if filters.customer_id is not None and filters.customer_external_id is not None:
        raise InvalidInput(
            "Give at most one of customer_id and customer_external_id.",
            errors=[{"field": "customer_id", "message": "at most one of customer_id, customer_external_id"}],
        )
    if filters.customer_external_id is not None:
        found = await customers.customer_id_by_external_id(pool, filters.customer_external_id)
        if found is None:
            raise NotFound(f"No customer with external_id {filters.customer_external_id!r}.")
        return found
    if filters.customer_id is not None:
        state = await customers.get_customer(pool, filters.customer_id)
        if state is None:
            raise NotFound(f"No customer with id {filters.customer_id}.")
        if state is True:
            raise erased(filters.customer_id)
    return filters.customer_id


async def _with_histories(pool: asyncpg.Pool, rows: list[asyncpg.Record]) -> list[InvitationRecord]:
    histories: dict[UUID, list[InvitationEvent]] = defaultdict(list)
    if rows:
        for item in await pool.fetch(Q["invitation_histories"], [row["id"] for row in rows]):
            histories[item["invitation_id"]].append(
                InvitationEvent(
                    at=item["at"], event=item["event"], reason=item["reason"], channel=item["channel"]
                )
            )
    return [_record(row, histories[row["id"]]) for row in rows]


def _record(row: asyncpg.Record, history: list[InvitationEvent]) -> InvitationRecord:
    fields: dict[str, Any] = dict(row)
    del fields["erased"]
    return InvitationRecord(**fields, history=history)


def encode_cursor(created_at: datetime, invitation_id: UUID) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{invitation_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    """The (created_at, id) a `next_cursor` was made from; 422 for anything else."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _, ident = text.partition("|")
        created_at, invitation_id = datetime.fromisoformat(moment), UUID(ident)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        created_at = None  # type: ignore[assignment]
    if created_at is None or created_at.tzinfo is None or not instant_in_range(created_at):
        raise InvalidInput(
            "`cursor` is not one this service gave out; pass a page's `next_cursor` unchanged.",
            errors=[{"field": "cursor", "message": "not a next_cursor value", "source": "query"}],
        )
    return created_at, invitation_id


async def mark_opened(pool: asyncpg.Pool, invitation_id: UUID) -> None:
    """The survey page was loaded from its link (the first time counts; see reading.sql)."""
    await pool.execute(Q["mark_invitation_opened"], invitation_id)
