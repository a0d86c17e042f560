"""The model registry's rules: register, activate only what beats the active model, roll back.

"Beats" is decided on the candidate's own holdout window (what happened after its
holdout cut-off, labelled by the candidate's label policy and horizon, every input read
as it was at the cut-off), scoring the same rows with both models: a lower Brier score
without losing ROC AUC (`ml.evaluation.beats`). The card's own figures are never
compared: two cards' holdouts are different customers and windows. An active model that
answers another question (another policy or horizon) is judged by the candidate's, the
question the deployment asks now.
Activations and rollbacks take an advisory lock, so two admins cannot both
switch away from the same model; every switch is recorded in model_activations.
"""

import asyncio
from typing import Any

import asyncpg
import msgspec

from feedback_svc.lib.errors import Conflict, NotFound
from feedback_svc.scoring import queries
from feedback_svc.scoring.cache import baseline_bundle
from feedback_svc.scoring.schemas import Activation, Comparison, ModelDetail, ModelList, ModelVersion
from ml import persistence
from ml.bundle import ModelBundle
from ml.evaluation import Comparison as ComparisonResult
from ml.evaluation import compare_models
from ml.history import add_purchase_rhythm
from ml.training import InsufficientDataError, load_snapshot

BASELINE_LABEL = "baseline"


async def register_model(conn: asyncpg.Connection | asyncpg.Pool, bundle: ModelBundle) -> bool:
    """Store a trained bundle as a new version; False when that version exists already."""
    card: dict[str, Any] = msgspec.to_builtins(bundle.card)
    model_id = await queries.insert_model(
        conn,
        version=bundle.version,
        artifact=persistence.dumps(bundle),
        card=card,
        metrics=bundle.card.metrics(),
    )
    return model_id is not None


async def list_models(pool: asyncpg.Pool) -> ModelList:
    rows = await queries.list_models(pool)
    baseline = baseline_bundle().version
    serving = next((row["version"] for row in rows if row["active"]), baseline)
    return ModelList(
        serving=serving,
        baseline_version=baseline,
        models=[msgspec.convert(row, ModelVersion) for row in rows],
    )


async def get_model(pool: asyncpg.Pool, version: str) -> ModelDetail:
    row = await queries.get_model(pool, version)
    if row is None:
        raise NotFound(f"No model version {version!r}; GET /v1/models lists them.")
    row.pop("id")
    return msgspec.convert(row, ModelDetail)


async def activate(conn: asyncpg.Connection, version: str, *, force: bool, actor: str) -> Activation:
    """Make `version` the active model if it beats the active one (or `force`).

    The switch is a transaction of its own, or a savepoint in the caller's (the API's
    idempotency key); the comparison before it only reads.
    """
    target = await queries.get_model(conn, version)
    if target is None:
        raise NotFound(f"No model version {version!r}; GET /v1/models lists them.")
    active = await queries.active_model(conn)
    if active is not None and active["id"] == target["id"]:
        raise Conflict(f"Model {version} is already active.")
    candidate = await _bundle(conn, version)
    incumbent = await _bundle(conn, active["version"]) if active else baseline_bundle()
    incumbent_name = active["version"] if active else f"{BASELINE_LABEL} {incumbent.version}"
    comparison: Comparison | None = None
    try:
        comparison = await compare_on_holdout(conn, candidate, incumbent)
    except (InsufficientDataError, ValueError) as error:
        if not force:
            raise Conflict(
                f"Model {version} cannot be compared with the active model ({incumbent_name}): {error}. "
                "Send force=true to activate it anyway."
            ) from None
    if not force and comparison is not None and not comparison.candidate_wins:
        raise Conflict(
            f"Model {version} does not beat the active model ({incumbent_name}) on the holdout after "
            f"{comparison.holdout_cutoff:%Y-%m-%d}: {comparison.reason}. "
            "Send force=true to activate it anyway."
        )
    reason = comparison.reason if comparison is not None else "forced without a comparison"
    async with conn.transaction():
        await queries.lock_registry(conn)
        now_active = await queries.active_model(conn)
        if _id(now_active) != _id(active):
            raise Conflict("The active model changed while this one was being compared; try again.")
        await queries.switch_active_model(conn, target["id"])
        await queries.insert_activation(
            conn,
            action="activate",
            model_id=target["id"],
            previous_model_id=_id(active),
            forced=force,
            reason=reason,
            actor=actor,
        )
    return Activation(
        action="activate",
        active_version=version,
        previous_version=incumbent_name,
        forced=force,
        reason=reason,
        comparison=comparison,
    )


async def rollback(conn: asyncpg.Connection, *, actor: str) -> Activation:
    """Serve again what served before the last switch (the baseline if that was it).

    Rolling back twice returns to where you started, like `cd -`.
    """
    async with conn.transaction():
        await queries.lock_registry(conn)
        active = await queries.active_model(conn)
        last = await queries.last_activation(conn)
        if last is None or last["model_id"] != _id(active):
            raise Conflict(
                "There is no earlier model to roll back to: no model was activated through the registry."
            )
        target_id = last["previous_model_id"]
        if target_id is None and active is None:
            raise Conflict("The shipped baseline serves and nothing served before it; nothing to roll back.")
        await queries.switch_active_model(conn, target_id)
        current = active["version"] if active else BASELINE_LABEL
        target = last["previous_version"] if target_id is not None else BASELINE_LABEL
        reason = f"rolled back from {current} to {target}"
        await queries.insert_activation(
            conn,
            action="rollback",
            model_id=target_id,
            previous_model_id=_id(active),
            forced=True,
            reason=reason,
            actor=actor,
        )
    return Activation(
        action="rollback", active_version=target, previous_version=current, forced=True, reason=reason
    )


async def compare_on_holdout(
    pool: asyncpg.Pool | asyncpg.Connection, candidate: ModelBundle, incumbent: ModelBundle
) -> Comparison:
    """Both models on the candidate's holdout window, as the database has it now."""
    window = candidate.card.data
    snapshot = await load_snapshot(
        pool,
        cutoff=window.holdout_cutoff,
        horizon_days=window.horizon_days,
        labels=window.labels,  # type: ignore[arg-type]
    )
    churned = int(snapshot.churned.sum())
    if churned == 0 or churned == len(snapshot.rows):
        raise InsufficientDataError(
            f"the holdout after {window.holdout_cutoff:%Y-%m-%d} has {len(snapshot.rows)} customers and "
            f"{churned} churned; both classes are needed"
        )

    def compare() -> ComparisonResult:
        # the purchase rhythm as it was known at the cut-off, for both models: never later purchases
        add_purchase_rhythm(snapshot.rows, horizon_days=window.horizon_days)
        return compare_models(candidate, incumbent, snapshot.rows, snapshot.churned)

    result = await asyncio.to_thread(compare)
    reason = result.reason
    theirs = incumbent.card.data
    if (theirs.labels, theirs.horizon_days) != (window.labels, window.horizon_days):
        reason += (
            f" (judged as {window.labels} churn within {window.horizon_days} days; the active model was "
            f"trained for {theirs.labels} churn within {theirs.horizon_days} days)"
        )
    return Comparison(
        holdout_cutoff=window.holdout_cutoff,
        candidate=_figures(result.candidate),
        active=_figures(result.active),
        candidate_wins=result.candidate_wins,
        reason=reason,
    )


async def _bundle(conn: asyncpg.Connection, version: str) -> ModelBundle:
    artifact = await queries.model_artifact(conn, version)
    if artifact is None:
        raise NotFound(f"No model version {version!r}.")
    return await asyncio.to_thread(persistence.loads, artifact)


def _figures(metrics: object) -> dict[str, float]:
    return {key: float(value) for key, value in msgspec.to_builtins(metrics).items()}


def _id(row: dict[str, Any] | None) -> Any:
    return None if row is None else row["id"]
