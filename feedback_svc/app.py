"""create_app(settings): wiring only. No import-time side effects, no global pools."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from importlib.metadata import PackageNotFoundError, version

import asyncpg
import httpx
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.static_files import create_static_files_router
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from feedback_svc.alerts.routes import AlertsController
from feedback_svc.analytics.agent_pages import AgentsCsvController, AgentsPageController
from feedback_svc.analytics.pages import AnalyticsPageController
from feedback_svc.analytics.routes import AnalyticsController
from feedback_svc.apikeys.service import ApiKeyVerifier
from feedback_svc.audit.routes import AuditController
from feedback_svc.background import background_runners, run_all
from feedback_svc.console.alerts_pages import AlertPagesController
from feedback_svc.console.message_pages import MessagePagesController
from feedback_svc.console.pages import ConsoleAuthController, ConsoleHomeController
from feedback_svc.console.queue_pages import QueuePagesController
from feedback_svc.console.task_pages import TaskPagesController
from feedback_svc.console.users_pages import UsersPagesController
from feedback_svc.console.web.render import STATIC_DIR as CONSOLE_STATIC_DIR
from feedback_svc.console.web.render import STATIC_PATH as CONSOLE_STATIC_PATH
from feedback_svc.console.web.render import ConsolePages
from feedback_svc.customers.grouped import customer_upserts
from feedback_svc.customers.routes import CustomersController, EventsController
from feedback_svc.db import revisions
from feedback_svc.db.pool import create_feature_pool, create_pool
from feedback_svc.health.routes import HealthController
from feedback_svc.imports.routes import ImportsController
from feedback_svc.lib.auth import PUBLIC, ApiKeyAuthentication, trim_route_stacks
from feedback_svc.lib.heap import freeze_long_lived
from feedback_svc.lib.openapi import api_docs_assets, openapi_config
from feedback_svc.lib.problems import EXCEPTION_HANDLERS
from feedback_svc.lib.ratelimit import RateLimiter
from feedback_svc.lib.request_context import RequestContext
from feedback_svc.metrics.collector import WorkGauges
from feedback_svc.metrics.routes import MetricsController
from feedback_svc.privacy.routes import PrivacyController
from feedback_svc.recovery.message_routes import MessageTemplatesController
from feedback_svc.recovery.routes import RecoveryController
from feedback_svc.scoring.at_risk import AtRiskPolicy
from feedback_svc.scoring.batcher import ScoreBatcher
from feedback_svc.scoring.blas import one_blas_thread
from feedback_svc.scoring.cache import ScorerCache
from feedback_svc.scoring.routes import ModelsController, ScoresController, ScoringRunsController
from feedback_svc.settings import Settings
from feedback_svc.surveys.answer_batches import AnswerLanes
from feedback_svc.surveys.definition_routes import SurveyDefinitionsController
from feedback_svc.surveys.pages import SurveyPagesController
from feedback_svc.surveys.routes import SurveysController, TouchpointsController
from feedback_svc.surveys.sms_routes import SmsInboundController
from feedback_svc.surveys.web.render import STATIC_DIR, SurveyPages
from feedback_svc.themes.pages import ThemePagesController
from feedback_svc.themes.routes import ThemeAnalyticsController, ThemesController
from feedback_svc.webhooks.routes import WebhookEndpointsController

MAX_BODY_BYTES = 1_048_576
# below uvicorn's graceful shutdown timeout: the batch in hand finishes, the rest
# comes back to another worker when its lease runs out
WORKER_STOP_SECONDS = 15
# concurrent customer upserts share statements (customers/grouped.py); a few lanes keep the
# round trip and the commit of one group overlapping with the next
CUSTOMER_UPSERT_LANES = 4


def service_version() -> str:
    try:
        return version("feedback-svc")
    except PackageNotFoundError:
        return "0.0.0+checkout"


def _pool(state: State) -> asyncpg.Pool:
    return state.pool


@asynccontextmanager
async def _shared_lanes(
    app: Litestar, settings: Settings, pool: asyncpg.Pool, scoring_pool: asyncpg.Pool
) -> AsyncIterator[None]:
    """The lanes concurrent requests share their database work on: score batches, group commits."""
    one_blas_thread()  # the lanes score side by side: see scoring/blas.py
    # a lane per scoring connection: a 1,000-customer request keeps four of them busy
    batcher = app.state.score_batcher = ScoreBatcher(
        scoring_pool,
        app.state.scorers,
        at_risk=AtRiskPolicy.from_settings(settings),
        lanes=settings.db_scoring_pool_max,
    )
    upserts = app.state.customer_upserts = customer_upserts(pool, lanes=CUSTOMER_UPSERT_LANES)
    answer_lanes = app.state.answer_lanes = AnswerLanes(pool)
    try:
        yield
    finally:
        await batcher.close()
        await upserts.close()
        await answer_lanes.close()


def create_app(settings: Settings) -> Litestar:
    if settings.database_url is None:
        raise ValueError("create_app needs settings.database_url (serve starts the embedded one first)")
    if not settings.secret_key:
        raise ValueError("create_app needs settings.secret_key (Settings.with_secret() makes one locally)")
    database_url = settings.database_url

    @asynccontextmanager
    async def database(app: Litestar) -> AsyncIterator[None]:
        pool = await create_pool(settings, database_url)
        app.state.pool = pool
        try:
            scoring_pool = app.state.scoring_pool = await create_feature_pool(settings, database_url)
        except BaseException:
            await pool.close()
            raise
        app.state.api_keys = ApiKeyVerifier(pool, ttl=settings.api_key_cache_seconds)
        limiter = app.state.rate_limiter = RateLimiter(
            pool, longest_window_seconds=settings.console_login_window_seconds
        )
        stop = asyncio.Event()
        flushing = asyncio.create_task(limiter.run(stop), name="rate-limit-flush")
        freeze_long_lived()  # everything imported and built so far lives as long as the process
        try:
            async with _shared_lanes(app, settings, pool, scoring_pool):
                yield
        finally:
            stop.set()
            await flushing
            await scoring_pool.close()
            await pool.close()

    @asynccontextmanager
    async def workers(app: Litestar) -> AsyncIterator[None]:
        if not settings.run_workers:
            yield
            return
        stop = asyncio.Event()
        async with httpx.AsyncClient() as http:
            runners = background_runners(app.state.pool, settings, http=http, scorers=app.state.scorers)
            task = asyncio.create_task(run_all(runners, stop), name="background-work")
            try:
                yield
            finally:
                stop.set()
                with suppress(TimeoutError):
                    await asyncio.wait_for(task, timeout=WORKER_STOP_SECONDS)

    app = Litestar(
        route_handlers=[
            HealthController,
            CustomersController,
            EventsController,
            ImportsController,
            PrivacyController,
            SurveysController,
            SurveyDefinitionsController,
            TouchpointsController,
            SurveyPagesController,
            SmsInboundController,
            WebhookEndpointsController,
            MetricsController,
            AuditController,
            ScoresController,
            ModelsController,
            ScoringRunsController,
            RecoveryController,
            AlertsController,
            MessageTemplatesController,
            create_static_files_router(
                "/static", [STATIC_DIR], opt={PUBLIC: True}, include_in_schema=False, send_as_attachment=False
            ),
            AnalyticsController,
            ThemeAnalyticsController,
            ThemesController,
            AnalyticsPageController,
            AgentsPageController,
            AgentsCsvController,
            ThemePagesController,
            ConsoleAuthController,
            ConsoleHomeController,
            UsersPagesController,
            QueuePagesController,
            TaskPagesController,
            AlertPagesController,
            MessagePagesController,
            api_docs_assets({PUBLIC: True}),
            create_static_files_router(
                CONSOLE_STATIC_PATH,
                [CONSOLE_STATIC_DIR],
                opt={PUBLIC: True},
                include_in_schema=False,
                send_as_attachment=False,
            ),
        ],
        dependencies={"pool": Provide(_pool, sync_to_thread=False)},
        middleware=[
            DefineMiddleware(ApiKeyAuthentication, open_prefix="/schema"),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[database, workers],  # exited in reverse: worker stops first
        state=State(
            {
                "settings": settings,
                "head_revision": revisions.head_revision(),
                "survey_pages": SurveyPages(),
                "console_pages": ConsolePages(brand_name=settings.brand_name),
                "work_gauges": WorkGauges(),
                "scorers": ScorerCache(refresh_seconds=settings.model_refresh_seconds),
            }
        ),
        openapi_config=openapi_config(service_version()),
        request_max_body_size=MAX_BODY_BYTES,
        debug=False,
        logging_config=None,  # configure_logging owns the root logger
    )
    trim_route_stacks(app)
    # ids, access logs and request metrics for every request, 404s included
    app.asgi_handler = RequestContext(app.asgi_handler)
    trusted = settings.proxy_networks_text()
    if trusted:
        # outermost, so the rate limits, the logs and everything else see the real client;
        # here rather than in the server, so every way of serving the app trusts the same
        app.asgi_handler = ProxyHeadersMiddleware(app.asgi_handler, trusted_hosts=trusted)  # type: ignore[arg-type]
    return app
