"""Typed wrappers over scoring/queries.sql."""

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple
from uuid import UUID

import asyncpg
import msgspec

from feedback_svc.db.sql import load_queries
from ml.scorer import CustomerScore

Q = load_queries(Path(__file__).with_name("queries.sql"))

Conn = asyncpg.Connection | asyncpg.Pool
Row = dict[str, Any]
KIND = "churn_loyalty"
_encode = msgspec.json.Encoder().encode


class ScoreEvent(NamedTuple):
    """An event about one score of a batch, written with it by `insert_scores`."""

    position: int  # the score's index in the batch
    type: str
    data: dict[str, Any]  # the event's data without `score_id`: the statement adds it
    ordering_key: str | None


async def insert_scores(
    conn: Conn,
    scores: Sequence[CustomerScore],
    *,
    scored_at: datetime,
    events: Sequence[ScoreEvent] = (),
    topic: str = "",
    dedupe_prefix: str = "",
) -> list[int]:
    """Store a batch in one statement, with `events` on the outbox's `topic` (each event's
    dedupe key is `dedupe_prefix` and its score's id); ids come back in the order given."""
    records = await conn.fetch(
        Q["insert_scores"],
        scored_at,
        scores[0].model_version,
        [s.customer_id for s in scores],
        [s.churn_probability for s in scores],
        [s.loyalty_probability for s in scores],
        [s.loyalty_index for s in scores],
        [s.risk_band for s in scores],
        [max(0.0, s.value_at_risk) for s in scores],
        [_encode(s.reasons).decode() for s in scores],
        [array_literal(s.imputed) for s in scores],
        next((s.loyalty_unavailable for s in scores if s.loyalty_unavailable), None),
        [s.expected_purchases for s in scores],
        [s.expected_value for s in scores],
        [s.probability_alive for s in scores],
        topic,
        dedupe_prefix,
        [event.position + 1 for event in events],
        [_encode({"type": event.type, "data": event.data}).decode() for event in events],
        [event.ordering_key for event in events],
    )
    return [record["id"] for record in records]


def array_literal(values: Sequence[str]) -> str:
    """A PostgreSQL text[] literal; every element quoted, so any text survives."""
    if not values:
        return "{}"
    together = "".join(values)
    if '"' in together or "\\" in together:  # rare: escape each element
        values = [value.replace("\\", "\\\\").replace('"', '\\"') for value in values]
    return '{"' + '","'.join(values) + '"}'


async def active_model_version(conn: Conn, kind: str = KIND) -> str | None:
    return await conn.fetchval(Q["active_model_version"], kind)


async def model_artifact(conn: Conn, version: str) -> bytes | None:
    record = await conn.fetchrow(Q["model_artifact"], version)
    return None if record is None else bytes(record["artifact"])


async def list_models(conn: Conn, kind: str = KIND) -> list[Row]:
    return [dict(record) for record in await conn.fetch(Q["list_models"], kind)]


async def get_model(conn: Conn, version: str) -> Row | None:
    record = await conn.fetchrow(Q["get_model"], version)
    return None if record is None else dict(record)


async def insert_model(
    conn: Conn,
    *,
    version: str,
    artifact: bytes,
    card: dict[str, Any],
    metrics: dict[str, Any],
    kind: str = KIND,
) -> UUID | None:
    """The new model's id; None when this version was registered before."""
    return await conn.fetchval(Q["insert_model"], kind, version, artifact, card, metrics)


async def lock_registry(conn: asyncpg.Connection, kind: str = KIND) -> None:
    await conn.execute(Q["lock_registry"], kind)


async def active_model(conn: Conn, kind: str = KIND) -> Row | None:
    record = await conn.fetchrow(Q["active_model"], kind)
    return None if record is None else dict(record)


async def switch_active_model(conn: asyncpg.Connection, model_id: UUID | None, kind: str = KIND) -> None:
    """Make `model_id` the one active model (None: none, the baseline serves); in a transaction."""
    await conn.execute(Q["deactivate_models"], kind)
    if model_id is not None:
        await conn.execute(Q["activate_model"], model_id)


async def insert_activation(
    conn: Conn,
    *,
    action: str,
    model_id: UUID | None,
    previous_model_id: UUID | None,
    forced: bool,
    reason: str,
    actor: str,
    kind: str = KIND,
) -> None:
    await conn.execute(
        Q["insert_activation"], kind, action, model_id, previous_model_id, forced, reason, actor
    )


async def last_activation(conn: Conn, kind: str = KIND) -> Row | None:
    record = await conn.fetchrow(Q["last_activation"], kind)
    return None if record is None else dict(record)


async def insert_training_run(
    conn: Conn,
    *,
    activate: bool,
    force: bool,
    requested_by: str,
    horizon_days: int | None = None,
    as_of: datetime | None = None,
) -> Row | None:
    """The new run, or None when one of this kind is queued or running already."""
    record = await conn.fetchrow(
        Q["insert_training_run"], KIND, activate, force, requested_by, horizon_days, as_of
    )
    return None if record is None else dict(record)


async def active_training_run(conn: Conn) -> Row | None:
    record = await conn.fetchrow(Q["active_training_run"], KIND)
    return None if record is None else dict(record)


async def close_orphaned_training_runs(conn: Conn, *, job_key_prefix: str) -> None:
    await conn.execute(Q["close_orphaned_training_runs"], KIND, job_key_prefix)


async def get_training_run(conn: Conn, run_id: UUID) -> Row | None:
    record = await conn.fetchrow(Q["get_training_run"], run_id)
    return None if record is None else dict(record)


async def start_training_run(conn: Conn, run_id: UUID, *, labels: str) -> Row | None:
    record = await conn.fetchrow(Q["start_training_run"], run_id, labels)
    return None if record is None else dict(record)


async def report_training_progress(conn: Conn, run_id: UUID, *, progress: float, message: str) -> None:
    await conn.execute(Q["report_training_progress"], run_id, progress, message)


async def finish_training_run(
    conn: Conn,
    run_id: UUID,
    *,
    status: str,
    message: str,
    model_version: str | None = None,
    activated: bool | None = None,
    error: str | None = None,
) -> None:
    await conn.execute(Q["finish_training_run"], run_id, status, message, model_version, activated, error)


async def ids_by_external_id(
    conn: asyncpg.Connection | asyncpg.Pool, external_ids: list[str]
) -> dict[str, UUID]:
    rows = await conn.fetch(Q["ids_by_external_id"], external_ids)
    return {row["external_id"]: row["id"] for row in rows}
