"""Training a new model version: asked over the API, done by an outbox job.

Training reads every customer at four cut-offs and fits several models: seconds
to minutes. So POST /v1/models/training-runs records a run and an outbox job in
one transaction and answers 202; whichever worker claims the job trains (the
fit in a thread, so that process keeps serving), registers the version, and
writes progress and the outcome on the run. A redelivered job whose run has
finished does nothing; one whose worker died trains again, and the same data
gives the same version, which is registered once.

A run may ask for its own horizon and as-of date (train as if it were then: a model of
the past to backtest with); the label policy is the deployment's (FEEDBACK_CHURN_LABELS).
"""

import asyncio
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import structlog

from feedback_svc.lib.errors import Conflict, InvalidInput, NotFound
from feedback_svc.outbox.queries import Job, enqueue
from feedback_svc.scoring import queries, registry
from feedback_svc.scoring.schemas import Activation, TrainingRequest, TrainingRun
from feedback_svc.settings import Settings
from ml.bundle import ModelBundle
from ml.queries import LabelPolicy, fetch_purchase_summaries
from ml.training import InsufficientDataError, TrainingConfig, fit, load_snapshots

log = structlog.get_logger(__name__)

TOPIC = "model.train"
ACTIVE_RUN_TRIES = 3
Progress = Callable[[str, float], None]


@dataclass(frozen=True, kw_only=True)
class Trained:
    bundle: ModelBundle
    registered: bool
    activation: Activation | None
    not_activated: str | None


def training_config(
    settings: Settings | None = None, *, horizon_days: int | None = None, labels: LabelPolicy | None = None
) -> TrainingConfig:
    """The deployment's label policy and horizon, or what a run asked for."""
    settings = settings or Settings()
    return TrainingConfig(
        horizon_days=horizon_days or settings.churn_horizon_days,
        labels=labels or settings.churn_labels,
    )


def check_training_request(data: TrainingRequest, *, now: datetime) -> TrainingRequest:
    if data.as_of is not None and data.as_of > now:
        raise InvalidInput(
            f"as_of {data.as_of.isoformat()} is in the future; a model can be trained as of now or earlier.",
            errors=[{"field": "as_of", "message": "must not be in the future", "source": "body"}],
        )
    return data


async def request_training(
    conn: asyncpg.Connection,
    *,
    activate: bool,
    force: bool,
    actor: str,
    horizon_days: int | None = None,
    as_of: datetime | None = None,
) -> tuple[TrainingRun, bool]:
    """A new run and its job in one transaction (a savepoint in the caller's), or the run that is
    queued or running already: one training at a time. True when the run is new."""
    async with conn.transaction():
        await queries.close_orphaned_training_runs(conn, job_key_prefix=f"{TOPIC}:")
        # the insert waits for a concurrent request's run to commit; then, or if a run was there
        # before, the active run is read with a fresh snapshot (each statement takes its own)
        for _ in range(ACTIVE_RUN_TRIES):
            run = await queries.insert_training_run(
                conn,
                activate=activate,
                force=force,
                requested_by=actor,
                horizon_days=horizon_days,
                as_of=as_of,
            )
            if run is not None:
                await enqueue(
                    conn, topic=TOPIC, payload={"run_id": str(run["id"])}, dedupe_key=f"{TOPIC}:{run['id']}"
                )
                return TrainingRun(**run), True
            active = await queries.active_training_run(conn)
            if active is not None:
                return TrainingRun(**active), False
            # the active run finished between the two statements: ask again
    raise Conflict("Training runs are starting and finishing right now; ask again in a moment.")


async def get_training_run(pool: asyncpg.Pool, run_id: UUID) -> TrainingRun:
    run = await queries.get_training_run(pool, run_id)
    if run is None:
        raise NotFound(f"No training run {run_id}.")
    return TrainingRun(**run)


async def train_and_register(
    pool: asyncpg.Pool,
    *,
    now: datetime,
    activate: bool,
    force: bool,
    actor: str,
    config: TrainingConfig | None = None,
    progress: Progress | None = None,
) -> Trained:
    """Train on the database as of `now`, register the version, and activate it if asked."""
    config = config or TrainingConfig()
    train, holdout = await load_snapshots(pool, now=now, config=config, progress=progress)
    current = await fetch_purchase_summaries(pool, as_of=now) if config.lifetime_value else None
    result = await asyncio.to_thread(
        fit, train, holdout, now=now, config=config, progress=progress, current=current
    )
    registered = await registry.register_model(pool, result.bundle)
    activation, refused = None, None
    if activate:
        try:
            async with pool.acquire() as conn:
                activation = await registry.activate(conn, result.bundle.version, force=force, actor=actor)
        except Conflict as error:
            refused = error.detail
    return Trained(bundle=result.bundle, registered=registered, activation=activation, not_activated=refused)


class TrainingJob:
    """The outbox handler for TOPIC."""

    def __init__(
        self, pool: asyncpg.Pool, *, settings: Settings | None = None, flush_seconds: float = 0.5
    ) -> None:
        self.pool = pool
        self.settings = settings or Settings()
        self.flush_seconds = flush_seconds

    async def __call__(self, job: Job) -> None:
        run_id = UUID(job.payload["run_id"])
        run = await queries.start_training_run(self.pool, run_id, labels=self.settings.churn_labels)
        if run is None:
            return
        latest: list[tuple[str, float]] = [("starting", 0.0)]
        done = asyncio.Event()
        flusher = asyncio.create_task(self._flush(run_id, latest, done))
        try:
            trained = await train_and_register(
                self.pool,
                now=run["as_of"] or datetime.now(UTC),
                activate=run["activate"],
                force=run["force"],
                actor=run["requested_by"],
                config=training_config(self.settings, horizon_days=run["horizon_days"]),
                progress=lambda message, fraction: latest.append((message, fraction)),
            )
        except InsufficientDataError as error:
            await self._finish(flusher, done)
            await queries.finish_training_run(
                self.pool, run_id, status="failed", message="not enough data to train", error=str(error)
            )
            return
        except Exception as error:
            await self._finish(flusher, done)
            log.exception("training run failed", run_id=str(run_id))
            await queries.finish_training_run(
                self.pool,
                run_id,
                status="failed",
                message="training failed",
                error=f"{type(error).__name__}: {error}",
            )
            return
        await self._finish(flusher, done)
        await queries.finish_training_run(
            self.pool,
            run_id,
            status="succeeded",
            message=describe(trained),
            model_version=trained.bundle.version,
            activated=trained.activation is not None,
        )

    async def _flush(self, run_id: UUID, latest: list[tuple[str, float]], done: asyncio.Event) -> None:
        """Progress comes from a worker thread; the database hears of it every flush_seconds."""
        written: tuple[str, float] | None = None
        while not done.is_set():
            current = latest[-1]
            if current != written:
                with suppress(asyncpg.PostgresError, OSError):
                    await queries.report_training_progress(
                        self.pool, run_id, progress=min(max(current[1], 0.0), 1.0), message=current[0]
                    )
                written = current
            with suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout=self.flush_seconds)

    async def _finish(self, flusher: "asyncio.Task[None]", done: asyncio.Event) -> None:
        done.set()
        await flusher


def describe(trained: Trained) -> str:
    version = trained.bundle.version
    registered = f"registered {version}" if trained.registered else f"{version} was registered before"
    if trained.activation is not None:
        forced = " by force" if trained.activation.forced else ""
        return f"{registered}; activated{forced} ({trained.activation.reason})"
    if trained.not_activated is not None:
        return f"{registered}; not activated: {trained.not_activated}"
    return f"{registered}; activate it with POST /v1/models/{version}/activate"
