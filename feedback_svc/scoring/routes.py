"""HTTP for scores and the model registry; the rules live in service.py and registry.py."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter

from feedback_svc.apikeys.service import Principal
from feedback_svc.lib.auth import requires_scope
from feedback_svc.lib.body import OptionalBody, StrictBody
from feedback_svc.lib.errors import NotFound
from feedback_svc.lib.idempotency import IdempotencyKey, respond_idempotently
from feedback_svc.lib.openapi import BEARER, problem_responses
from feedback_svc.recovery import intake
from feedback_svc.scoring import registry, runs, service, trainer
from feedback_svc.scoring.schemas import (
    MAX_BATCH,
    Activation,
    ModelDetail,
    ModelList,
    ProactiveDay,
    Score,
    ScoreBatch,
    ScoreRequest,
    ScoringRun,
    ScoringRunList,
    TrainingRequest,
    TrainingRun,
)

_encoder = msgspec.json.Encoder()
Force = Annotated[bool, QueryParameter(description="Activate even if it does not beat the active model.")]
# a training run asked for without a body: the deployment's horizon, as of now
NO_TRAINING_OPTIONS = TrainingRequest()
AsOfQuery = Annotated[
    datetime | None,
    QueryParameter(
        description="Score as of this past moment (ISO 8601 with a UTC offset): every input as it was then.",
    ),
]


class ScoresController(Controller):
    path = "/v1"
    tags = ["scores"]
    opt = requires_scope("crm")
    security = BEARER

    @post(
        "/scores",
        summary=f"Score 1 to {MAX_BATCH} customers (stored; at-risk ones emit customer.at_risk)",
        description="Each result has the churn probability, risk band, loyalty, lifetime value, value at "
        "risk, the three strongest reasons and the imputed inputs. Items name customers by "
        "`customer_external_id` or `customer_id`. An unknown or erased customer fails "
        "its own item (status `failed` with an error), not the batch. With `as_of` it is a backtest: "
        "every input is read as it was then, nothing is stored and no event is emitted.",
        dto=StrictBody[ScoreRequest],
        return_dto=None,
        status_code=200,
        responses=problem_responses(400, 401, 403, 404, 409, 413, 422, 503),
    )
    async def score_customers(
        self,
        request: Request[Principal, Principal, State],
        pool: NamedDependency[asyncpg.Pool],
        data: JSONBody[ScoreRequest],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[ScoreBatch]:
        state = request.app.state

        async def score() -> ScoreBatch:
            named = await service.name_customers(state.scoring_pool, data.items)
            if not named.items:
                batch = service.batch_of(
                    [], model_version=(await state.scorers.scorer(state.scoring_pool)).version
                )
            elif data.as_of is not msgspec.UNSET or data.model_version is not msgspec.UNSET:
                batch = await service.backtest_batch(
                    state.scoring_pool,
                    state.scorers,
                    named.items,
                    as_of=data.as_of,
                    model_version=data.model_version,
                    now=service.now_utc(),
                )
            else:
                # shared with other requests in flight: see scoring/batcher.py
                batch = await state.score_batcher.score(named.items)
            return named.results(batch)

        if idempotency_key is None:  # nothing to keep: no main-pool transaction around the scoring
            return Response(await score(), status_code=200)

        # Not on `conn`: scoring has a pool of its own, so the scores commit just before the
        # key does; a crash between the two lets a retry score again (a new score row).
        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            return 200, _encoder.encode(await score())

        return await respond_idempotently(request, pool, idempotency_key, work)

    @get(
        "/customers/{customer_id:uuid}/score",
        summary="A fresh score for one customer (not stored), now or as of a past moment",
        responses=problem_responses(400, 401, 403, 404, 410, 422, 503),
    )
    async def customer_score(
        self,
        request: Request[Principal, Principal, State],
        customer_id: FromPath[UUID],
        as_of: AsOfQuery = None,
    ) -> Score:
        return await service.score_customer(
            request.app.state.scoring_pool,
            request.app.state.scorers,
            customer_id,
            now=service.now_utc(),
            as_of=as_of,
        )


class ModelsController(Controller):
    path = "/v1/models"
    tags = ["models"]
    opt = requires_scope("admin")
    security = BEARER

    @get(
        "/",
        summary="Model versions, their holdout metrics, and which one serves",
        responses=problem_responses(401, 403),
    )
    async def list_models(self, pool: NamedDependency[asyncpg.Pool]) -> ModelList:
        return await registry.list_models(pool)

    @get(
        "/{version:str}",
        summary="One model version with its model card",
        responses=problem_responses(401, 403, 404),
    )
    async def get_model(self, pool: NamedDependency[asyncpg.Pool], version: FromPath[str]) -> ModelDetail:
        return await registry.get_model(pool, version)

    @post(
        "/training-runs",
        summary="Train a new version in the background (one training at a time)",
        description="Answers 202 with the new run; follow it at the Location header until `status` is "
        "`succeeded` or `failed`. With activate=true the new version is activated if it beats the "
        "active one on its holdout (or in any case with force=true). The body may set the horizon "
        "and the as-of date (a model of the past, to backtest); it may be left out. `activate` and "
        "`force` are also accepted in the query string. Only one training is queued or running at a "
        "time: while one is, a request starts nothing and answers **200** with that run (and its "
        "Location), whose own settings stand; ask again once it has finished.",
        dto=OptionalBody[TrainingRequest],
        return_dto=None,
        status_code=202,
        responses={
            200: ResponseSpec(
                data_container=TrainingRun,
                description="A training was queued or running already: that run, nothing new started",
            ),
            **problem_responses(400, 401, 403, 409, 413, 422),
        },
    )
    async def train_model(
        self,
        request: Request[Principal, Principal, State],
        pool: NamedDependency[asyncpg.Pool],
        *,
        data: JSONBody[TrainingRequest] = NO_TRAINING_OPTIONS,
        activate: Annotated[bool, QueryParameter(description="Activate the new version if it wins.")] = False,
        force: Force = False,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[TrainingRun]:
        asked = trainer.check_training_request(data, now=service.now_utc())

        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            # the run and its outbox job commit with the key: a replay never queues a second run
            run, started = await trainer.request_training(
                conn,
                activate=activate or asked.activate,
                force=force or asked.force,
                horizon_days=asked.horizon_days,
                as_of=asked.as_of,
                actor=request.user.name,
            )
            return 202 if started else 200, _encoder.encode(run)

        response = await respond_idempotently(request, pool, idempotency_key, work)
        # from the body, which a replay has too
        run = msgspec.json.decode(response.content, type=TrainingRun)
        response.headers["Location"] = f"/v1/models/training-runs/{run.id}"
        return response

    @get(
        "/training-runs/{run_id:uuid}",
        summary="A training run's progress and outcome",
        responses=problem_responses(401, 403, 404),
    )
    async def training_run(self, pool: NamedDependency[asyncpg.Pool], run_id: FromPath[UUID]) -> TrainingRun:
        return await trainer.get_training_run(pool, run_id)

    @post(
        "/{version:str}/activate",
        summary="Activate a version if it beats the active one on its holdout",
        description="409 with the comparison's verdict when it does not (unless force=true). Every replica "
        "serves the new version within FEEDBACK_MODEL_REFRESH_SECONDS.",
        status_code=200,
        responses=problem_responses(401, 403, 404, 409, 422),
    )
    async def activate(
        self,
        request: Request[Principal, Principal, State],
        pool: NamedDependency[asyncpg.Pool],
        version: FromPath[str],
        force: Force = False,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Activation]:
        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            activation = await registry.activate(conn, version, force=force, actor=request.user.name)
            return 200, _encoder.encode(activation)

        response = await respond_idempotently(request, pool, idempotency_key, work)
        request.app.state.scorers.forget()  # committed now
        return response

    @post(
        "/rollback",
        summary="Serve again the model that served before the last switch",
        description="Rolling back twice returns to where you started. With nothing before, the shipped "
        "baseline serves.",
        status_code=200,
        responses=problem_responses(401, 403, 409, 422),
    )
    async def rollback(
        self,
        request: Request[Principal, Principal, State],
        pool: NamedDependency[asyncpg.Pool],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Activation]:
        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            return 200, _encoder.encode(await registry.rollback(conn, actor=request.user.name))

        response = await respond_idempotently(request, pool, idempotency_key, work)
        request.app.state.scorers.forget()  # committed now
        return response


class ScoringRunsController(Controller):
    path = "/v1/scoring/runs"
    tags = ["scores"]
    opt = requires_scope("admin")
    security = BEARER

    @get(
        "/",
        summary="Scoring runs, newest first, and today's proactive intake",
        description="Each run scored every active customer (not erased, not known to have churned) with "
        "the model active when it started, and opened proactive tasks for the at-risk ones, the highest "
        "value at risk first, at most FEEDBACK_PROACTIVE_TASKS_PER_DAY a UTC day over every path. "
        "`today` says how many were opened today and how many at-risk customers the limit left out. "
        "See docs/scheduled-scoring.md.",
        responses=problem_responses(400, 401, 403, 422),
    )
    async def list_runs(
        self,
        request: Request[Principal, Principal, State],
        pool: NamedDependency[asyncpg.Pool],
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
    ) -> ScoringRunList:
        day = intake.day_of(service.now_utc())
        items = [msgspec.convert(row, ScoringRun) for row in await runs.list_runs(pool, limit=limit)]
        today = await intake.intake_on(pool, day)
        return ScoringRunList(
            items=items,
            today=ProactiveDay(
                day=day, daily_limit=request.app.state.settings.proactive_tasks_per_day, **today
            ),
        )

    @get(
        "/{run_id:uuid}",
        summary="One scoring run: its progress while it runs, its outcome when it has finished",
        responses=problem_responses(401, 403, 404),
    )
    async def get_run(self, pool: NamedDependency[asyncpg.Pool], run_id: FromPath[UUID]) -> ScoringRun:
        row = await runs.get_run(pool, run_id)
        if row is None:
            raise NotFound(f"No scoring run {run_id}; GET /v1/scoring/runs lists them.")
        return msgspec.convert(row, ScoringRun)

    @post(
        "/",
        summary="Score every active customer now (one run at a time)",
        description="Answers 202 with the new run; the background runners of every process score it in "
        "id ranges (within 30 seconds; `feedback-svc score-all` does it in the foreground). While a run "
        "is running, nothing new starts: the answer is **200** with that run. Follow the Location.",
        status_code=202,
        responses={
            200: ResponseSpec(
                data_container=ScoringRun, description="A run was running already: that run, nothing new"
            ),
            **problem_responses(401, 403, 409, 422, 503),
        },
    )
    async def start_run(
        self,
        request: Request[Principal, Principal, State],
        pool: NamedDependency[asyncpg.Pool],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[ScoringRun]:
        state = request.app.state

        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            run, started = await runs.start_run(
                conn, state.scorers, state.settings, trigger="api", requested_by=request.user.name
            )
            assert run is not None
            row = await runs.get_run(conn, run["id"])
            return 202 if started else 200, _encoder.encode(msgspec.convert(row, ScoringRun))

        response = await respond_idempotently(request, pool, idempotency_key, work)
        run = msgspec.json.decode(response.content, type=ScoringRun)
        response.headers["Location"] = f"/v1/scoring/runs/{run.id}"
        return response
