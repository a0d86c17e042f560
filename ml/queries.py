"""Typed wrappers for ml/features.sql (raw feature rows as of a moment) and ml/labels.sql."""

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

import asyncpg
import msgspec

from feedback_svc.db.sql import load_queries

_QUERIES = {
    **load_queries(Path(__file__).with_name("features.sql")),
    **load_queries(Path(__file__).with_name("labels.sql")),
}
# training reads the population in slices so each call keeps the serving plan
_BATCH = 2000
# How the feature query is planned. A custom plan for each call took 1.2 ms of planning for
# 0.6 ms of execution on one customer, and PostgreSQL never settles on the generic plan by
# itself; the generic plan is as fast to run, for one customer or a thousand. JIT is off as
# well: near 900 customers the plan passes jit_above_cost and LLVM compiled it on every call,
# 100-200 ms for a 40 ms query. Bitmap scans are off: the generic plan read each customer's
# invitations and answers through a bitmap scan (and sorted the answers), and setting up a
# bitmap and a sort again for every customer's two to five rows cost more than reading them;
# plain index scans (the answers come in index order, no sort) give the same rows with 27 %
# less execution time for 250 or 1,200 customers, 7-10 % less for one to five (EXPLAIN
# ANALYZE medians, `feedback-svc demo` database, busy machine), and the backend's CPU for
# 1,000 customers in four queries fell from 43-44 ms to 40.5 ms. The scoring pool sets these
# for its sessions (feedback_svc.db.pool.create_feature_pool, marked by `features_tuned`); any
# other connection (training, the CLI) gets them for one transaction.
FEATURE_PLANNING = {"jit": "off", "plan_cache_mode": "force_generic_plan", "enable_bitmapscan": "off"}
_TUNE_LOCAL = "; ".join(f"SET LOCAL {name} = {value}" for name, value in FEATURE_PLANNING.items())
_decode_object = msgspec.json.Decoder(dict[str, Any])

FeatureRow = dict[str, Any]
# what churn means (docs/churn-labels.md): a `churned` event, or no purchase, within the horizon
LabelPolicy = Literal["contractual", "non_contractual"]
LABEL_POLICIES: tuple[LabelPolicy, ...] = ("contractual", "non_contractual")


async def fetch_features(
    conn: asyncpg.Connection | asyncpg.Pool, *, as_of: datetime, customer_ids: Sequence[UUID]
) -> list[FeatureRow]:
    """One raw feature row per existing customer, in no particular order.

    Customers that do not exist are left out; `attributes` comes back as a dict
    whatever jsonb codec the connection has.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    ids = list(customer_ids)
    if isinstance(conn, asyncpg.Pool):
        async with conn.acquire() as held:
            records = await _fetch_tuned(held, _QUERIES["select_features"], as_of, ids)
    else:
        records = await _fetch_tuned(conn, _QUERIES["select_features"], as_of, ids)
    return [_row(record) for record in records]


async def _fetch_tuned(conn: asyncpg.Connection, query: str, *args: Any) -> list[asyncpg.Record]:
    if getattr(conn, "features_tuned", False):
        return await conn.fetch(query, *args)
    if conn.is_in_transaction():
        await conn.execute(_TUNE_LOCAL)  # until the caller's transaction ends
        return await conn.fetch(query, *args)
    # SET LOCAL, never a session SET: pooled connections are handed back without RESET ALL
    async with conn.transaction():
        await conn.execute(_TUNE_LOCAL)
        return await conn.fetch(query, *args)


async def fetch_population(
    conn: asyncpg.Connection | asyncpg.Pool, *, as_of: datetime, labels: LabelPolicy = "contractual"
) -> list[UUID]:
    """Customers who could churn after `as_of`: customers by then, not churned, not erased;
    for non-contractual labels, only those who had bought by then."""
    return [record["id"] for record in await conn.fetch(_QUERIES["select_population"], as_of, labels)]


async def fetch_population_features(
    conn: asyncpg.Connection | asyncpg.Pool, *, as_of: datetime, labels: LabelPolicy = "contractual"
) -> list[FeatureRow]:
    """Feature rows for the population at `as_of`, ordered by customer id (training)."""
    ids = await fetch_population(conn, as_of=as_of, labels=labels)
    rows: list[FeatureRow] = []
    for start in range(0, len(ids), _BATCH):
        rows.extend(await fetch_features(conn, as_of=as_of, customer_ids=ids[start : start + _BATCH]))
    rows.sort(key=lambda row: row["customer_id"])
    return rows


async def fetch_purchase_summaries(
    conn: asyncpg.Connection | asyncpg.Pool, *, as_of: datetime
) -> list[FeatureRow]:
    """Every customer who had bought by `as_of`, with the purchase-summary keys of a feature row."""
    return [dict(record) for record in await conn.fetch(_QUERIES["select_purchase_summaries"], as_of)]


async def fetch_labels(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    cutoff: datetime,
    horizon_days: int,
    customer_ids: Sequence[UUID],
    labels: LabelPolicy = "contractual",
) -> dict[UUID, tuple[bool, int | None]]:
    """{customer: (churned within the horizon under `labels`, first NPS score in it or None)}."""
    records = await conn.fetch(_QUERIES["select_labels"], cutoff, list(customer_ids), horizon_days, labels)
    return {record["customer_id"]: (record["churned"], record["next_nps"]) for record in records}


def _row(record: asyncpg.Record) -> FeatureRow:
    row = dict(record)
    row["attributes"] = _decode_object.decode(row.pop("attributes_json"))
    return row
