"""The managers' analytics page: tiles and SVG charts from the same service as the JSON API."""

from datetime import UTC, date, datetime
from typing import Any

import asyncpg
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery

from feedback_svc.analytics import charts, recovery, service
from feedback_svc.analytics.schemas import Driver
from feedback_svc.analytics.stats import Estimate
from feedback_svc.console import queries as console_queries
from feedback_svc.console.guard import console_user, requires_role
from feedback_svc.console.queue_pages import person_names
from feedback_svc.console.respond import CONSOLE_EXCEPTION_HANDLERS, html, pages
from feedback_svc.console.sentences import OUTCOME_LABELS, TRIGGER_LABELS
from feedback_svc.lib.auth import PUBLIC
from feedback_svc.lib.errors import InvalidInput
from feedback_svc.recovery.schemas import ScoreChange
from feedback_svc.users.schemas import SessionUser

SCALES = {"nps": (-100.0, 100.0), "csat": (0.0, 100.0), "ces": (1.0, 7.0)}
LABELS = {"nps": "NPS", "csat": "CSAT (%)", "ces": "CES (mean effort, 1-7)"}


def parse_date(raw: str | None) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{raw!r} is not a date; use YYYY-MM-DD.") from None


class AnalyticsPageController(Controller):
    path = "/console/analytics"
    opt = {PUBLIC: True}
    include_in_schema = False
    guards = [requires_role("manager")]
    exception_handlers = CONSOLE_EXCEPTION_HANDLERS
    dependencies = {"user": Provide(console_user, sync_to_thread=False)}

    @get("/")
    async def show(
        self,
        request: Request[Any, Any, Any],
        *,
        pool: NamedDependency[asyncpg.Pool],
        user: NamedDependency[SessionUser],
        kind: FromQuery[str] = "nps",
        date_from: FromQuery[str | None] = None,
        date_to: FromQuery[str | None] = None,
    ) -> Response[str]:
        today = datetime.now(UTC).date()
        errors: list[str] = []
        kind = kind if kind in SCALES else "nps"
        try:
            first, last = parse_date(date_from), parse_date(date_to)
            first, last, _, _ = service.window(first, last, today=today)
        except InvalidInput as error:
            errors.append(error.detail)
            first, last, _, _ = service.window(None, None, today=today)
        tiles = {}
        for each in SCALES:
            report = await service.scores(
                pool,
                kind=each,
                by="none",
                period="none",
                date_from=first,
                date_to=last,
                today=today,  # type: ignore[arg-type]
            )
            tiles[each] = report.overall
        rates = await service.response_rates(
            pool, by="none", period="none", date_from=first, date_to=last, today=today
        )
        trend = await service.scores(
            pool,
            kind=kind,
            by="none",
            period="month",
            date_from=first,
            date_to=last,
            today=today,  # type: ignore[arg-type]
        )
        by_touchpoint = await service.scores(
            pool,
            kind=kind,
            by="touchpoint",
            period="none",
            date_from=first,
            date_to=last,
            today=today,  # type: ignore[arg-type]
        )
        drivers = await service.drivers(pool, date_from=first, date_to=last, today=today)
        matrix = await recovery.value_vulnerability(pool)
        recovered = await recovery.recovery_report(pool, date_from=first, date_to=last, today=today)
        names = person_names(await console_queries.active_people(pool))
        low, high = SCALES[kind]
        causes = recovered.root_causes[:12]
        trend_points = [(g.period.strftime("%b %Y") if g.period else "", g.estimate) for g in trend.groups]
        touchpoint_rows = [(g.group or "(none)", g.estimate) for g in by_touchpoint.groups]
        detractor_rows = [(d.touchpoint, d.difference_points) for d in drivers.detractors]
        churn_rows = [(d.touchpoint, d.difference_points) for d in drivers.churn]
        label = LABELS[kind]
        body = pages(request).render(
            "analytics.html",
            user=user,
            current="/console/analytics",
            errors=errors,
            kind=kind,
            kinds=LABELS,
            date_from=first.isoformat(),
            date_to=last.isoformat(),
            tiles=tiles,
            rates=rates.overall,
            kind_label=label,
            trend_chart=charts.trend_chart(
                "trend", f"{label} by month with 95% intervals", trend_points, low=low, high=high
            ),
            touchpoint_chart=charts.interval_chart(
                "by-touchpoint",
                f"{label} by touchpoint with 95% intervals",
                touchpoint_rows,
                low=low,
                high=high,
                zero=0.0 if kind == "nps" else None,
            ),
            detractor_chart=charts.interval_chart(
                "drivers-detractors",
                "Difference in detractor share, touchpoint vs all others (points)",
                detractor_rows,
                low=-100,
                high=100,
                zero=0.0,
                values=[_driver_text(d) for d in drivers.detractors],
            ),
            churn_chart=charts.interval_chart(
                "drivers-churn",
                "Difference in churn share, customers who met the touchpoint vs the rest (points)",
                churn_rows,
                low=-100,
                high=100,
                zero=0.0,
                values=[_driver_text(d) for d in drivers.churn],
            ),
            any_small=any(e.small_sample for _, e in touchpoint_rows + trend_points if e.n),
            drivers_method=drivers.method,
            matrix=matrix,
            matrix_chart=charts.matrix_chart(
                "value-vulnerability",
                "Customers by value and churn risk band, with value at risk per cell",
                matrix.cells,
                matrix.value_cuts,
                risk_names=matrix.risk_bands,
                risk_cuts=matrix.risk_cuts,
            ),
            recovery=recovered,
            root_cause_chart=charts.interval_chart(
                "root-causes",
                "Share of resolved tasks by root cause (%) with 95% intervals",
                [(cause.root_cause, cause.share) for cause in causes],
                low=0,
                high=100,
                values=[f"{c.share.value or 0:.0f}% · {c.tasks} of {c.share.n}" for c in causes],
            ),
            method=trend.method,
            score_groups=_score_groups(recovered.score_change, kind=kind, names=names),
            score_method=recovered.score_change.method,
            fmt=_fmt,
            signed=_signed,
        )
        return html(body, status=422 if errors else 200)


SCORE_DIMENSIONS = {
    "all": "All worked tasks",
    "control": "Control group (left alone)",
    "trigger": "By trigger",
    "agent": "By agent",
    "root_cause": "By root cause",
    "outcome": "By outcome",
}


def _score_groups(change: ScoreChange, *, kind: str, names: dict[str, str]) -> list[dict[str, Any]]:
    """The score-change rows of one kind, grouped by dimension in reading order."""
    groups = []
    for dimension, heading in SCORE_DIMENSIONS.items():
        rows = [row for row in change.rows if row.kind == kind and row.dimension == dimension]
        if not rows:
            continue
        labels = {
            "trigger": lambda key: TRIGGER_LABELS.get(key, key),
            "outcome": lambda key: OUTCOME_LABELS.get(key, key),
            "agent": lambda key: names.get(key, key),
        }
        label = labels.get(dimension, lambda key: key)
        groups.append(
            {
                "heading": heading,
                "rows": [{"label": label(row.key) if row.key else heading, "row": row} for row in rows],
            }
        )
    return groups


def _signed(estimate: Estimate | None, digits: int = 2) -> str:
    """A change with its sign and interval: '+1.50 (95% interval +0.20 to +2.80)'."""
    if estimate is None or estimate.value is None:
        return "–"
    text = f"{estimate.value:+.{digits}f}"
    if estimate.low is not None and estimate.high is not None:
        text += f" ({estimate.low:+.{digits}f} to {estimate.high:+.{digits}f})"
    return text


def _driver_text(driver: Driver) -> str:
    """The difference in points and how many of the customers who met the touchpoint it rests on."""
    value = driver.difference_points.value
    shown = "–" if value is None else f"{value:+.1f}"
    return f"{shown} · {driver.exposed_events} of {driver.exposed_n}"


def _fmt(estimate: Estimate, digits: int = 1) -> str:
    if estimate.value is None:
        return "no answers"
    return f"{estimate.value:.{digits}f}"
