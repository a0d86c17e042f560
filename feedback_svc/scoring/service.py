"""Scoring rules: read features as of now, score with the active model, store, flag risk.

A backtest reads every input as of a past moment instead, and scores with the active model
or a registered version asked for by name; it stores nothing and emits nothing.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from feedback_svc.customers.locks import erased, erased_detail
from feedback_svc.lib.errors import InvalidInput, NotFound
from feedback_svc.outbox.events import EVENT_TOPIC
from feedback_svc.scoring import queries
from feedback_svc.scoring.at_risk import AtRiskPolicy
from feedback_svc.scoring.cache import ScorerCache
from feedback_svc.scoring.schemas import (
    ItemError,
    LifetimeValue,
    Reason,
    Score,
    ScoreBatch,
    ScoreItem,
    ScoreResult,
)
from ml.queries import FeatureRow, fetch_features
from ml.scorer import CustomerScore, Scorer

AT_RISK_EVENT = "customer.at_risk"
# below this many rows scoring takes well under a millisecond: a thread hop would cost more
INLINE_ROWS = 32


def now_utc() -> datetime:
    return datetime.now(UTC)


async def score_batch(
    pool: asyncpg.Pool,
    scorers: ScorerCache,
    items: Sequence[ScoreItem],
    *,
    at_risk: AtRiskPolicy,
    now: datetime,
) -> ScoreBatch:
    """Score, store and flag every known customer; unknown or erased ones fail alone."""
    scorer = await scorers.scorer(pool)
    async with pool.acquire() as conn:
        results = await score_items(conn, scorer, items, at_risk=at_risk, now=now)
    return batch_of(results, model_version=scorer.version)


async def score_items(
    conn: asyncpg.Connection,
    scorer: Scorer,
    items: Sequence[ScoreItem],
    *,
    at_risk: AtRiskPolicy,
    now: datetime,
) -> list[ScoreResult]:
    """One result per item, in order: features read, scored, stored (one statement each)."""
    wanted, failures = await _rows_of(conn, items, as_of=now)
    scores = await run_scorer(scorer, [row for _, row in wanted])
    ids = await store_scores(conn, scores, now=now, at_risk=at_risk) if scores else []
    scored = {
        position: to_wire(s, score_id=i, as_of=now, scored_at=now)
        for (position, _), s, i in zip(wanted, scores, ids, strict=True)
    }
    return _results(items, scored, failures)


async def backtest_batch(
    pool: asyncpg.Pool,
    scorers: ScorerCache,
    items: Sequence[ScoreItem],
    *,
    as_of: datetime | msgspec.UnsetType,
    model_version: str | msgspec.UnsetType,
    now: datetime,
) -> ScoreBatch:
    """Scores as of a past moment, with the active model or `model_version`: nothing stored."""
    if as_of is msgspec.UNSET:
        raise InvalidInput(
            "model_version is for backtests: send as_of too (stored scores always come from the "
            "active model).",
            errors=[{"field": "as_of", "message": "required with model_version", "source": "body"}],
        )
    moment = check_as_of(as_of, now=now, field="as_of", source="body")
    if model_version is msgspec.UNSET:
        scorer = await scorers.scorer(pool)
    else:
        scorer = await scorers.scorer_for(pool, model_version)
    async with pool.acquire() as conn:
        wanted, failures = await _rows_of(conn, items, as_of=moment)
    scores = await run_scorer(scorer, [row for _, row in wanted])
    scored = {
        position: to_wire(s, score_id=None, as_of=moment, scored_at=now)
        for (position, _), s in zip(wanted, scores, strict=True)
    }
    return batch_of(_results(items, scored, failures), model_version=scorer.version)


def check_as_of(as_of: datetime, *, now: datetime, field: str = "as_of", source: str = "query") -> datetime:
    """A backtest's moment: with a UTC offset, and not in the future."""
    if as_of.tzinfo is None:
        raise InvalidInput(
            f"{field} needs a UTC offset, e.g. 2026-06-30T00:00:00Z.",
            errors=[{"field": field, "message": "a time zone offset is required", "source": source}],
        )
    if as_of > now:
        raise InvalidInput(
            f"{field} {as_of.isoformat()} is in the future; a score can be computed as of now or earlier.",
            errors=[{"field": field, "message": "must not be in the future", "source": source}],
        )
    return as_of


async def _rows_of(
    conn: asyncpg.Connection, items: Sequence[ScoreItem], *, as_of: datetime
) -> tuple[list[tuple[int, FeatureRow]], dict[int, ItemError]]:
    """(position, row with fresh inputs) for every known customer; an error for the others."""
    rows = await fetch_features(conn, as_of=as_of, customer_ids=list({item.customer_id for item in items}))
    by_id = {row["customer_id"]: row for row in rows}
    failures: dict[int, ItemError] = {}
    wanted: list[tuple[int, FeatureRow]] = []
    for position, item in enumerate(items):
        row = by_id.get(item.customer_id)
        if row is None or row["erased"]:
            failures[position] = _missing(item.customer_id, erased=row is not None)
        else:
            wanted.append((position, with_fresh_inputs(row, item)))
    return wanted, failures


def _results(
    items: Sequence[ScoreItem], scored: dict[int, Score], failures: dict[int, ItemError]
) -> list[ScoreResult]:
    return [
        ScoreResult(customer_id=item.customer_id, status="scored", score=scored[position])
        if position in scored
        else ScoreResult(customer_id=item.customer_id, status="failed", error=failures[position])
        for position, item in enumerate(items)
    ]


@dataclass(frozen=True)
class Named:
    """A score request's items by our ids, and where each came from in the request."""

    items: list[ScoreItem]
    positions: list[int]
    external_ids: list[str | None]
    unknown: dict[int, str]

    def results(self, batch: ScoreBatch) -> ScoreBatch:
        """The batch's results in the request's order, the CRM's ids echoed, unknown ones failed."""
        if not self.unknown and not any(self.external_ids):
            return batch
        results: list[ScoreResult | None] = [None] * len(self.external_ids)
        for position, result in zip(self.positions, batch.results, strict=True):
            results[position] = msgspec.structs.replace(
                result, customer_external_id=self.external_ids[position]
            )
        for position, external_id in self.unknown.items():
            results[position] = ScoreResult(
                customer_id=None,
                customer_external_id=external_id,
                status="failed",
                error=ItemError(
                    status=404,
                    title="Not found",
                    detail=f"No customer with external_id {external_id!r}; create it with POST /v1/customers "
                    "first.",
                ),
            )
        return batch_of([r for r in results if r is not None], model_version=batch.model_version)


async def name_customers(conn: asyncpg.Connection | asyncpg.Pool, items: Sequence[ScoreItem]) -> Named:
    """Items that name customers by the CRM's id get ours (one query, only when some do)."""
    external_ids: list[str | None] = []
    for position, item in enumerate(items):
        by_id, by_external = (
            item.customer_id is not msgspec.UNSET,
            item.customer_external_id is not msgspec.UNSET,
        )
        if by_id == by_external:
            message = "exactly one of customer_id, customer_external_id"
            raise InvalidInput(
                f"Item {position} must name its customer by {message}.",
                errors=[{"field": f"items[{position}].customer_id", "message": message, "source": "body"}],
            )
        external_ids.append(None if by_id else item.customer_external_id)  # type: ignore[arg-type]
    wanted = sorted({e for e in external_ids if e is not None})
    if not wanted:
        return Named(
            items=list(items), positions=list(range(len(items))), external_ids=external_ids, unknown={}
        )
    known = await queries.ids_by_external_id(conn, wanted)
    named, positions, unknown = [], [], {}
    for position, (item, external_id) in enumerate(zip(items, external_ids, strict=True)):
        if external_id is None:
            named.append(item)
        elif external_id in known:
            named.append(
                msgspec.structs.replace(
                    item, customer_id=known[external_id], customer_external_id=msgspec.UNSET
                )
            )
        else:
            unknown[position] = external_id
            continue
        positions.append(position)
    return Named(items=named, positions=positions, external_ids=external_ids, unknown=unknown)


def batch_of(results: Sequence[ScoreResult], *, model_version: str) -> ScoreBatch:
    scored = sum(result.status == "scored" for result in results)
    return ScoreBatch(
        scored=scored, failed=len(results) - scored, model_version=model_version, results=list(results)
    )


async def score_customer(
    pool: asyncpg.Pool,
    scorers: ScorerCache,
    customer_id: UUID,
    *,
    now: datetime,
    as_of: datetime | None = None,
) -> Score:
    """A fresh score, not stored: reading it has no side effects (POST /v1/scores stores).
    With `as_of`, every input is read as it was then."""
    moment = now if as_of is None else check_as_of(as_of, now=now)
    scorer = await scorers.scorer(pool)
    rows = await fetch_features(pool, as_of=moment, customer_ids=[customer_id])
    if not rows:
        raise NotFound(_missing(customer_id, erased=False).detail)
    if rows[0]["erased"]:
        raise erased(customer_id)
    return to_wire(scorer.score(rows)[0], score_id=None, as_of=moment, scored_at=now)


def with_fresh_inputs(row: FeatureRow, item: ScoreItem) -> FeatureRow:
    """The stored row with what the CRM sent now laid over it (for this score only)."""
    if item.attributes is msgspec.UNSET and item.value is msgspec.UNSET:
        return row
    fresh = dict(row)
    if item.attributes is not msgspec.UNSET:
        fresh["attributes"] = {**row["attributes"], **item.attributes}
    if item.value is not msgspec.UNSET:
        fresh["value"] = item.value
    return fresh


async def run_scorer(scorer: Scorer, rows: list[FeatureRow]) -> list[CustomerScore]:
    """Numpy releases the GIL for the heavy parts, so long batches go to a thread and
    the event loop keeps answering other requests meanwhile."""
    if len(rows) <= INLINE_ROWS:
        return scorer.score(rows)
    return await asyncio.to_thread(scorer.score, rows)


async def store_scores(
    conn: asyncpg.Connection, scores: Sequence[CustomerScore], *, now: datetime, at_risk: AtRiskPolicy
) -> list[int]:
    """One statement for the batch and its at-risk events (so they commit together), the
    highest value at risk first (the daily limit of proactive tasks is taken in about that order)."""
    flagged = sorted(
        (i for i, s in enumerate(scores) if at_risk.is_at_risk(s)), key=lambda i: -scores[i].value_at_risk
    )
    return await queries.insert_scores(
        conn,
        scores,
        scored_at=now,
        events=[
            queries.ScoreEvent(i, AT_RISK_EVENT, at_risk_data(scores[i]), str(scores[i].customer_id))
            for i in flagged
        ],
        topic=EVENT_TOPIC,
        dedupe_prefix=f"{AT_RISK_EVENT}:",
    )


def at_risk_data(score: CustomerScore) -> dict[str, Any]:
    """A `customer.at_risk` event's data; `insert_scores` adds the stored score's id."""
    return {
        "customer_id": str(score.customer_id),
        "churn_probability": score.churn_probability,
        "risk_band": score.risk_band,
        "value_at_risk": score.value_at_risk,
        "model_version": score.model_version,
        "reasons": msgspec.to_builtins(score.reasons),
    }


def to_wire(score: CustomerScore, *, score_id: int | None, as_of: datetime, scored_at: datetime) -> Score:
    assert score.customer_id is not None
    return Score(
        id=score_id,
        customer_id=score.customer_id,
        churn_probability=score.churn_probability,
        risk_band=score.risk_band,  # type: ignore[arg-type]
        loyalty_probability=score.loyalty_probability,
        loyalty_index=score.loyalty_index,
        loyalty_unavailable=score.loyalty_unavailable,
        value_at_risk=score.value_at_risk,
        value_basis=score.value_basis,  # type: ignore[arg-type]
        lifetime_value=None
        if score.expected_purchases is None or score.probability_alive is None
        else LifetimeValue(
            horizon_days=score.horizon_days,
            expected_purchases=score.expected_purchases,
            expected_value=score.expected_value,
            probability_alive=score.probability_alive,
        ),
        lifetime_value_unavailable=score.lifetime_value_unavailable,
        reasons=[
            Reason(feature=r.feature, label=r.label, value=r.value, contribution=r.contribution, text=r.text)
            for r in score.reasons
        ],
        imputed=score.imputed,
        model_version=score.model_version,
        as_of=as_of,
        scored_at=scored_at,
    )


def _missing(customer_id: UUID, *, erased: bool) -> ItemError:
    if erased:
        return ItemError(status=410, title="No longer available", detail=erased_detail(customer_id))
    return ItemError(
        status=404,
        title="Not found",
        detail=f"No customer with id {customer_id}; create it with POST /v1/customers first.",
    )
