"""GET /metrics in the Prometheus text format, for keys with the `metrics` scope."""

import asyncio

import asyncpg
from litestar import Controller, Response, get
from litestar.datastructures import State
from prometheus_client import CONTENT_TYPE_LATEST

from feedback_svc.lib.auth import requires_scope
from feedback_svc.lib.errors import ServiceUnavailable
from feedback_svc.lib.openapi import BEARER, problem_responses
from feedback_svc.metrics.collector import WorkGauges

SCRAPE_DB_TIMEOUT_SECONDS = 2.0


class MetricsController(Controller):
    path = "/metrics"
    tags = ["operations"]
    opt = requires_scope("metrics")
    security = BEARER

    @get(
        summary="Prometheus metrics",
        description=(
            "Request latency histograms per route, answers stored, outbox lag, recovery queue depth "
            "and overdue tasks, and the active model version. Give Prometheus a key with only the "
            "`metrics` scope (`authorization: {credentials: <key>}` in its scrape config)."
        ),
        media_type=CONTENT_TYPE_LATEST,
        responses=problem_responses(401, 403, 503),
        cache_control=None,
    )
    async def metrics(self, state: State) -> Response[bytes]:
        gauges: WorkGauges = state.work_gauges
        pool: asyncpg.Pool = state.pool
        try:
            async with asyncio.timeout(SCRAPE_DB_TIMEOUT_SECONDS):
                await gauges.refresh(pool)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            # a scrape that fails is itself the signal; stale gauges would hide an outage
            raise ServiceUnavailable(
                f"The database did not answer for the work gauges: {type(error).__name__}.",
                headers={"Retry-After": "5"},
            ) from error
        return Response(gauges.exposition(), media_type=CONTENT_TYPE_LATEST)
