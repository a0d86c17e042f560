"""POST /v1/customers under load: concurrent upserts written by one statement (lib/group_commit.py).

Only a request that the one-by-one path would also write with a single statement joins a
group: no Idempotency-Key (a key adds its own rows to the transaction) and no audit record
(written in the action's transaction). Validation runs first, so a group holds only fields
that passed it; whatever the group leaves alone is written one by one, with its usual reply.
"""

from collections.abc import Sequence
from typing import Any

import asyncpg

from feedback_svc.customers import queries
from feedback_svc.customers.schemas import Customer, CustomerUpsert
from feedback_svc.customers.service import MAX_ATTRIBUTES, validated_fields
from feedback_svc.lib.group_commit import RETRY, GroupCommit

Upsert = tuple[str, dict[str, Any]]  # (external id, the fields sent)
Stored = tuple[Customer, bool]  # (the customer, whether it was created)
CustomerUpserts = GroupCommit[Upsert, Stored | None]


def customer_upserts(pool: asyncpg.Pool, *, lanes: int) -> CustomerUpserts:
    return GroupCommit(pool, one=_write_one, many=_write, lanes=lanes)


async def upsert_grouped(group: CustomerUpserts, data: CustomerUpsert) -> Stored | None:
    """The stored customer once its group committed; None: upsert it one by one.

    Raises InvalidInput, as the one-by-one path does, for fields that fail validation."""
    outcome = await group.write((data.external_id, validated_fields(data)))
    return None if outcome is RETRY else outcome


async def _write_one(conn: asyncpg.Connection, upsert: Upsert) -> Stored | None:
    return (await _write(conn, [upsert]))[0]


async def _write(conn: asyncpg.Connection, upserts: Sequence[Upsert]) -> list[Stored | None]:
    # one statement can change a row once: a second upsert of an external id in the same group
    # is left to the one-by-one path, which then runs after the first, as if the two came in turn
    first: dict[str, dict[str, Any]] = {}
    for external_id, fields in upserts:
        first.setdefault(external_id, fields)
    stored = await queries.upsert_customers(conn, list(first.items()), max_attributes=MAX_ATTRIBUTES)
    results: list[Stored | None] = []
    answered: set[str] = set()
    for external_id, _ in upserts:
        results.append(None if external_id in answered else stored.get(external_id))
        answered.add(external_id)
    return results
