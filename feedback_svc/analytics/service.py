"""Analytics from survey data: counts come from SQL, every number from stats.py."""

from datetime import UTC, date, datetime, time, timedelta

import asyncpg

from feedback_svc.analytics import queries, stats
from feedback_svc.analytics.schemas import (
    By,
    Driver,
    DriversReport,
    Kind,
    Period,
    RateGroup,
    ResponseRatesReport,
    ScoreGroup,
    ScoresReport,
)
from feedback_svc.lib.bounds import check_day
from feedback_svc.lib.errors import InvalidInput

DEFAULT_DAYS = 365
MAX_DAYS = 3 * 366

METHODS = {
    "nps": "NPS = % promoters (9-10) - % detractors (0-6); 95% normal-approximation interval with "
    "variance ((p+d) - (p-d)^2)/n.",
    "csat": "CSAT = % of answers 4-5 on 1-5; 95% Wilson score interval.",
    "ces": "CES = mean effort on 1-7 (7 = very difficult); 95% Student t interval.",
}
DRIVERS_METHOD = (
    "Each touchpoint against all others: difference in the share of detractors (NPS answers) or of "
    "customers who churned since the window opened (customers with an interaction in the window), in "
    "percentage points with a 95% Newcombe hybrid score interval, and the risk ratio with a 95% log "
    "(Katz) interval. Association, not cause."
)


def window(
    date_from: date | None, date_to: date | None, *, today: date
) -> tuple[date, date, datetime, datetime]:
    """Inclusive dates and the [start, end) instants in UTC they cover."""
    check_day(date_from, field="from")
    check_day(date_to, field="to")
    date_to = date_to or today
    date_from = date_from or date_to - timedelta(days=DEFAULT_DAYS - 1)
    if date_from > date_to:
        raise InvalidInput(f"`from` ({date_from}) must not be after `to` ({date_to}).")
    if (date_to - date_from).days >= MAX_DAYS:
        raise InvalidInput(f"Ask for at most {MAX_DAYS} days at a time.")
    start = datetime.combine(date_from, time.min, tzinfo=UTC)
    end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=UTC)
    return date_from, date_to, start, end


async def scores(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    kind: Kind,
    by: By,
    period: Period,
    date_from: date | None,
    date_to: date | None,
    today: date,
) -> ScoresReport:
    first, last, start, end = window(date_from, date_to, today=today)
    rows = await queries.score_counts(conn, kind=kind, start=start, end=end, period=period, by=by)
    cells: dict[tuple[date | None, str | None], dict[int, int]] = {}
    for row in rows:
        cells.setdefault((row["period"], row["grp"]), {})[row["score"]] = row["answers"]
    groups = [
        ScoreGroup(period=key[0], group=key[1], estimate=stats.estimate(kind, counts))
        for key, counts in cells.items()
    ]
    overall = stats.estimate(kind, stats.merge_counts(cells.values()))
    return ScoresReport(
        kind=kind,
        by=by,
        period=period,
        date_from=first,
        date_to=last,
        method=METHODS[kind],
        overall=overall,
        groups=groups if (by != "none" or period != "none") else [],
    )


RATE_FIELDS = ("sent", "answered", "answered_before_reminder", "reminded", "answered_after_reminder")


def _rate(period: date | None, group: str | None, counts: dict[str, int]) -> RateGroup:
    return RateGroup(
        period=period,
        group=group,
        **{field: counts[field] for field in RATE_FIELDS},
        rate=stats.proportion(counts["answered"], counts["sent"]),
        rate_without_reminders=stats.proportion(counts["answered_before_reminder"], counts["sent"]),
        rate_after_reminder=stats.proportion(counts["answered_after_reminder"], counts["reminded"]),
    )


async def response_rates(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    by: By,
    period: Period,
    date_from: date | None,
    date_to: date | None,
    today: date,
) -> ResponseRatesReport:
    first, last, start, end = window(date_from, date_to, today=today)
    rows = await queries.response_counts(conn, start=start, end=end, period=period, by=by)
    groups = [_rate(row["period"], row["grp"], row) for row in rows]
    overall = _rate(None, None, {field: sum(row[field] for row in rows) for field in RATE_FIELDS})
    return ResponseRatesReport(
        by=by,
        period=period,
        date_from=first,
        date_to=last,
        overall=overall,
        groups=groups if (by != "none" or period != "none") else [],
    )


def _driver(touchpoint: str, outcome: str, comparison: stats.Comparison) -> Driver:
    return Driver(
        touchpoint=touchpoint,
        outcome=outcome,  # type: ignore[arg-type]
        exposed_events=comparison.exposed_events,
        exposed_n=comparison.exposed_n,
        unexposed_events=comparison.unexposed_events,
        unexposed_n=comparison.unexposed_n,
        difference_points=comparison.difference,
        risk_ratio=comparison.risk_ratio,
        risk_ratio_low=comparison.risk_ratio_low,
        risk_ratio_high=comparison.risk_ratio_high,
    )


def _strongest_first(drivers: list[Driver]) -> list[Driver]:
    return sorted(drivers, key=lambda d: -(d.difference_points.value or 0.0))


async def drivers(
    conn: asyncpg.Connection | asyncpg.Pool, *, date_from: date | None, date_to: date | None, today: date
) -> DriversReport:
    first, last, start, end = window(date_from, date_to, today=today)
    detractor_rows = await queries.detractors_by_touchpoint(conn, start=start, end=end)
    answers = sum(row["answers"] for row in detractor_rows)
    detractors_total = sum(row["detractors"] for row in detractor_rows)
    detractors = []
    for row in detractor_rows:
        comparison = stats.compare(
            row["detractors"], row["answers"], detractors_total - row["detractors"], answers - row["answers"]
        )
        if comparison is not None:
            detractors.append(_driver(row["touchpoint"], "detractor", comparison))
    churn = []
    for row in await queries.churn_by_touchpoint(conn, start=start, end=end):
        comparison = stats.compare(
            row["churned"],
            row["customers"],
            row["population_churned"] - row["churned"],
            row["population"] - row["customers"],
        )
        if comparison is not None:
            churn.append(_driver(row["touchpoint"], "churn", comparison))
    return DriversReport(
        date_from=first,
        date_to=last,
        method=DRIVERS_METHOD,
        detractors=_strongest_first(detractors),
        churn=_strongest_first(churn),
    )
