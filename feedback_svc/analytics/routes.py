"""HTTP for analytics: JSON reports and the CSV export of answers (scope crm)."""

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Annotated

import asyncpg
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from litestar.response import Stream

from feedback_svc.analytics import queries, recovery, service
from feedback_svc.analytics.export import csv_chunks
from feedback_svc.analytics.schemas import (
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


def _today() -> date:
    return datetime.now(UTC).date()


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
