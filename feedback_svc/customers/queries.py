"""Typed wrappers over customers/queries.sql."""

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from feedback_svc.customers.schemas import Customer, CustomerEvent
from feedback_svc.db.sql import load_queries

Q = load_queries(Path(__file__).with_name("queries.sql"))

_CUSTOMER_FIELDS = frozenset(Customer.__struct_fields__)


def _customer(row: asyncpg.Record) -> Customer:
    return msgspec.convert({k: v for k, v in row.items() if k in _CUSTOMER_FIELDS}, Customer)


async def upsert_customers(
    conn: asyncpg.Connection | asyncpg.Pool,
    rows: Sequence[tuple[str, dict[str, Any]]],
    *,
    max_attributes: int,
) -> dict[str, tuple[Customer, bool]]:
    """Each stored customer and whether it was created, by external id (distinct ids); a customer
    that would pass `max_attributes` is left as it was and missing from the answer."""
    stored = await conn.fetch(
        Q["upsert_customers"],
        [external_id for external_id, _ in rows],
        [fields for _, fields in rows],
        max_attributes,
    )
    return {row["external_id"]: (_customer(row), row["inserted"]) for row in stored}


async def attribute_count_after(
    conn: asyncpg.Connection | asyncpg.Pool, *, external_id: str, attributes: dict[str, Any]
) -> int:
    return await conn.fetchval(Q["attribute_count_after"], external_id, attributes)


async def list_customers(
    conn: asyncpg.Connection | asyncpg.Pool, *, external_id: str | None, after: UUID | None, limit: int
) -> list[Customer]:
    return [_customer(row) for row in await conn.fetch(Q["list_customers"], external_id, after, limit)]


async def customer_id_by_external_id(
    conn: asyncpg.Connection | asyncpg.Pool, external_id: str
) -> UUID | None:
    return await conn.fetchval(Q["customer_id_by_external_id"], external_id)


async def get_customer(conn: asyncpg.Connection | asyncpg.Pool, customer_id: UUID) -> Customer | bool | None:
    """The customer; True for an erased one; None for no such id."""
    row = await conn.fetchrow(Q["get_customer"], customer_id)
    if row is None:
        return None
    return True if row["erased_at"] is not None else _customer(row)


async def lock_customer(
    conn: asyncpg.Connection, customer_id: UUID, *, exclusive: bool
) -> asyncpg.Record | None:
    """The customer's row, locked for the rest of the transaction; None when there is none."""
    return await conn.fetchrow(
        Q["lock_customer_exclusive" if exclusive else "lock_customer_shared"], customer_id
    )


async def insert_customer_event(
    conn: asyncpg.Connection,
    *,
    customer_id: UUID,
    external_id: str | None,
    kind: str,
    occurred_at: datetime,
    value: float | None,
    currency: str | None,
) -> CustomerEvent | None:
    """The stored event; None when one with this external id exists already."""
    row = await conn.fetchrow(
        Q["insert_customer_event"], customer_id, external_id, kind, occurred_at, value, currency
    )
    return msgspec.convert(dict(row), CustomerEvent) if row else None


async def customer_event_by_external_id(conn: asyncpg.Connection, external_id: str) -> CustomerEvent | None:
    row = await conn.fetchrow(Q["customer_event_by_external_id"], external_id)
    return msgspec.convert(dict(row), CustomerEvent) if row else None
