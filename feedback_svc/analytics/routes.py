"""HTTP for analytics: JSON reports, agent performance and the CSV exports (scope crm)."""

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Annotated, Any

import asyncpg
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, PathParameter, QueryParameter
from litestar.response import Stream

from feedback_svc.analytics import agents, queries, recovery, service
from feedback_svc.analytics.export import agents_csv, csv_chunks
from feedback_svc.analytics.schemas import (
    AgentMetric,
    AgentsReport,
    AgentTasksPage,
    By,
    DriversReport,
    Kind,
    Period,
    RecoveryReport,
    ResponseRatesReport,
    ScoresReport,
    ValueVulnerabilityReport,
)
from feedback_svc.lib.auth import requires_scope
from feedback_svc.lib.openapi import BEARER, problem_responses

DateFrom = Annotated[
    date | None,
    QueryParameter(name="from", description="First day (UTC), inclusive; default a year before `to`."),
]
DateTo = Annotated[
    date | None, QueryParameter(name="to", description="Last day (UTC), inclusive; default today.")
]
READ_ERRORS = problem_responses(401, 403, 422)
AGENT_DESCRIPTION = (
    "Per agent who resolved tasks in the window (and every active console agent, with zeros), listed by "
    "name, and the team as a whole: tasks, median time to first contact, promises kept, outcomes, "
    "recovered share, the customer's score change after recovery and 90-day churn after resolution. "
    "Every estimate carries its 95% interval, n and `small_sample` (fewer than 10 cases); shares also "
    "the difference from the rest of the team. `method` says how each number is made."
)


def _today() -> date:
    return datetime.now(UTC).date()


async def _agents_report(
    request: Request[Any, Any, Any], pool: asyncpg.Pool, *, date_from: date | None, date_to: date | None
) -> AgentsReport:
    settings = request.app.state.settings
    return await agents.agents_report(
        pool, date_from=date_from, date_to=date_to, today=_today(), churn_labels=settings.churn_labels
    )


class AnalyticsController(Controller):
    path = "/v1/analytics"
    tags = ["analytics"]
    opt = requires_scope("crm")
    security = BEARER

    @get(
        "/scores",
        summary="NPS, CSAT or CES with 95% intervals, by period and group",
        description="Every estimate carries n, its 95% interval and `small_sample` (fewer than 30 answers).",
        responses=READ_ERRORS,
    )
    async def scores(
        self,
        *,
        pool: NamedDependency[asyncpg.Pool],
        kind: FromQuery[Kind] = "nps",
        by: FromQuery[By] = "none",
        period: FromQuery[Period] = "none",
        date_from: DateFrom = None,
        date_to: DateTo = None,
    ) -> ScoresReport:
        return await service.scores(
            pool, kind=kind, by=by, period=period, date_from=date_from, date_to=date_to, today=_today()
        )

    @get(
        "/response-rates",
        summary="Answered / sent invitations with 95% Wilson intervals",
        responses=READ_ERRORS,
    )
    async def response_rates(
        self,
        pool: NamedDependency[asyncpg.Pool],
        by: FromQuery[By] = "none",
        period: FromQuery[Period] = "none",
        date_from: DateFrom = None,
        date_to: DateTo = None,
    ) -> ResponseRatesReport:
        return await service.response_rates(
            pool, by=by, period=period, date_from=date_from, date_to=date_to, today=_today()
        )

    @get(
        "/drivers",
        summary="Touchpoints that go with detractors and with churn, with effect sizes",
        responses=READ_ERRORS,
    )
    async def drivers(
        self, pool: NamedDependency[asyncpg.Pool], date_from: DateFrom = None, date_to: DateTo = None
    ) -> DriversReport:
        return await service.drivers(pool, date_from=date_from, date_to=date_to, today=_today())

    @get(
        "/value-vulnerability",
        summary="Customers by value quartile and the serving model's risk band, with value at risk",
        description="From each customer's latest score; all 16 cells, empty ones with zeros. Rows start "
        "at the churn probabilities on the serving model's card (`risk_cuts`), or at the 50th, 80th and "
        "95th percentiles of the scores when the card has no usable bands.",
        responses=READ_ERRORS,
    )
    async def value_vulnerability(self, pool: NamedDependency[asyncpg.Pool]) -> ValueVulnerabilityReport:
        return await recovery.value_vulnerability(pool)

    @get(
        "/recovery",
        summary="Recovery rate, time to first contact, promises kept, uplift against control, root causes",
        description="Shares carry 95% intervals and small-sample flags; "
        "the uplift is null without a control group.",
        responses=READ_ERRORS,
    )
    async def recovery_effectiveness(
        self, pool: NamedDependency[asyncpg.Pool], date_from: DateFrom = None, date_to: DateTo = None
    ) -> RecoveryReport:
        return await recovery.recovery_report(pool, date_from=date_from, date_to=date_to, today=_today())

    @get(
        "/responses.csv",
        summary="Every answer with its comment as CSV",
        description="Cells starting with = + - @ are prefixed with ' so spreadsheets do not run them.",
        # Litestar appends "; charset=utf-8" to text/* itself: naming it here gave it twice
        media_type="text/csv",
        responses=READ_ERRORS,
    )
    async def export_responses(
        self,
        pool: NamedDependency[asyncpg.Pool],
        kind: FromQuery[Kind | None] = None,
        date_from: DateFrom = None,
        date_to: DateTo = None,
    ) -> Stream:
        first, last, start, end = service.window(date_from, date_to, today=_today())

        async def chunks() -> AsyncIterator[bytes]:
            async with pool.acquire() as conn, conn.transaction(readonly=True):
                async for chunk in csv_chunks(
                    queries.export_responses(conn, start=start, end=end, kind=kind)
                ):
                    yield chunk

        return Stream(
            chunks(),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="responses-{first}-{last}.csv"'},
        )

    @get(
        "/agents",
        summary="Agent performance: each agent's recovery work beside the team's, with intervals",
        description=AGENT_DESCRIPTION,
        responses=READ_ERRORS,
    )
    async def agents(
        self,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        date_from: DateFrom = None,
        date_to: DateTo = None,
    ) -> AgentsReport:
        return await _agents_report(request, pool, date_from=date_from, date_to=date_to)

    @get(
        "/agents.csv",
        summary="Agent performance as CSV: the team's row, then one per agent",
        description="The numbers of `GET /v1/analytics/agents`, each estimate with `_low`, `_high`, `_n` and "
        "`_small_sample` columns.",
        media_type="text/csv",
        responses=READ_ERRORS,
    )
    async def agents_csv(
        self,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        date_from: DateFrom = None,
        date_to: DateTo = None,
    ) -> Response[bytes]:
        report = await _agents_report(request, pool, date_from=date_from, date_to=date_to)
        name = f"agents-{report.date_from}-{report.date_to}.csv"
        return Response(
            agents_csv(report),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @get(
        "/agents/{agent:str}/tasks",
        summary="The tasks behind one of an agent's numbers",
        description="`metric` picks the number: `tasks` (all), `first_contact` (contacted: the median), "
        "`promises` (due: promises kept), `promises_broken`, `worked` (recovered share), an outcome "
        "(`recovered`, `not_recovered`, `unreachable`, `no_action_needed`), `score_change` (customers who "
        "answered again) or `churn_90d` (observed 90 days: churn) and `churned_90d`. Same window and "
        "definitions as `GET /v1/analytics/agents`; newest resolution first.",
        responses=READ_ERRORS,
    )
    async def agent_tasks(
        self,
        *,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        agent: Annotated[str, PathParameter(min_length=1, max_length=320)],
        metric: FromQuery[AgentMetric] = "tasks",
        date_from: DateFrom = None,
        date_to: DateTo = None,
        cursor: Annotated[str | None, QueryParameter(max_length=200, description="From next_cursor.")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> AgentTasksPage:
        return await agents.agent_tasks(
            pool,
            agent=agent,
            metric=metric,
            date_from=date_from,
            date_to=date_to,
            today=_today(),
            churn_labels=request.app.state.settings.churn_labels,
            limit=limit,
            cursor=cursor,
        )
