"""What each theme means for the business: its share, NPS and CSAT with and without it, churn.

Counts come from SQL, every number from analytics/stats.py. A theme is compared with the
other *themed* comments, not with all answers: customers who write a comment differ from
those who do not (unhappy ones write more), so the fair question is "among the people who
told us why, how do those who said this differ from those who said something else?".
"""

import math
from collections import defaultdict
from datetime import date

import asyncpg

from feedback_svc.analytics import stats
from feedback_svc.analytics.service import window
from feedback_svc.themes import queries
from feedback_svc.themes.schemas import (
    ThemeComparison,
    ThemeImpact,
    ThemeRiskRatio,
    ThemesReport,
    ThemeTrendPoint,
)

METHOD = (
    "Share: the theme's comments among all themed comments in the window, 95% Wilson interval. "
    "NPS with the theme against NPS of the other themed NPS answers, the difference with a 95% normal "
    "interval (the two NPS variances added); CSAT likewise, the difference with Newcombe's interval. "
    "Churn: customers with a comment in the theme against customers with other themed comments, who "
    "churned since the window opened; risk ratio with a 95% log (Katz) interval. Trend: the monthly "
    "share (UTC months). Association, not cause."
)


def nps_difference(with_theme: dict[int, int], without: dict[int, int]) -> stats.Estimate:
    """NPS with minus NPS without, in points, with a normal interval (independent samples)."""
    a, b = stats.nps(with_theme), stats.nps(without)
    if a.value is None or b.value is None:
        return stats.Estimate(value=None, low=None, high=None, n=a.n + b.n, small_sample=True)
    variance = _nps_variance(with_theme) + _nps_variance(without)
    half = stats.Z95 * 100 * math.sqrt(variance)
    difference = a.value - b.value
    return stats.Estimate(
        value=difference,
        low=max(-200.0, difference - half),
        high=min(200.0, difference + half),
        n=a.n + b.n,
        small_sample=min(a.n, b.n) < stats.SMALL_SAMPLE,
    )


def _nps_variance(counts: dict[int, int]) -> float:
    n = sum(counts.values())
    p = sum(count for score, count in counts.items() if score >= 9) / n
    d = sum(count for score, count in counts.items() if score <= 6) / n
    return max(0.0, (p + d) - (p - d) ** 2) / n


def _without(totals: dict[int, int], part: dict[int, int]) -> dict[int, int]:
    return {
        score: count - part.get(score, 0) for score, count in totals.items() if count - part.get(score, 0)
    }


def csat_comparison(with_theme: dict[int, int], without: dict[int, int]) -> ThemeComparison:
    satisfied = sum(count for score, count in with_theme.items() if score >= 4)
    other_satisfied = sum(count for score, count in without.items() if score >= 4)
    n, other_n = sum(with_theme.values()), sum(without.values())
    compared = stats.compare(satisfied, n, other_satisfied, other_n)
    difference = (
        compared.difference
        if compared is not None
        else stats.Estimate(value=None, low=None, high=None, n=n + other_n, small_sample=True)
    )
    return ThemeComparison(
        with_theme=stats.csat(with_theme), without_theme=stats.csat(without), difference=difference
    )


async def themes_report(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    date_from: date | None,
    date_to: date | None,
    locale: str | None,
    today: date,
) -> ThemesReport:
    first, last, start, end = window(date_from, date_to, today=today)
    themes = {row["id"]: row for row in await queries.list_themes(conn, locale=None, include_merged=False)}
    scores: dict[int, dict[str, dict[int, int]]] = defaultdict(lambda: defaultdict(dict))
    totals: dict[str, dict[int, int]] = defaultdict(dict)
    for row in await queries.score_counts(conn, start=start, end=end, locale=locale):
        scores[row["theme_id"]][row["kind"]][row["score"]] = row["answers"]
        totals[row["kind"]][row["score"]] = totals[row["kind"]].get(row["score"], 0) + row["answers"]
    churn = {
        row["theme_id"]: row
        for row in await queries.churn_by_theme(conn, start=start, end=end, locale=locale)
    }
    monthly: dict[date, dict[int, int]] = defaultdict(dict)
    for row in await queries.monthly_counts(conn, start=start, end=end, locale=locale):
        monthly[row["month"]][row["theme_id"]] = row["comments"]
    commented = sum(sum(counts.values()) for counts in totals.values())
    impacts = []
    for theme_id, kinds in scores.items():
        theme = themes.get(theme_id)
        if theme is None:
            continue
        comments = sum(sum(counts.values()) for counts in kinds.values())
        nps_with, csat_with = dict(kinds.get("nps", {})), dict(kinds.get("csat", {}))
        nps_without, csat_without = _without(totals["nps"], nps_with), _without(totals["csat"], csat_with)
        impacts.append(
            ThemeImpact(
                theme_id=theme_id,
                label=theme["label"],
                locale=theme["locale"],
                status=theme["status"],
                top_words=list(theme["top_words"]),
                comments=comments,
                share=stats.proportion(comments, commented),
                nps=ThemeComparison(
                    with_theme=stats.nps(nps_with),
                    without_theme=stats.nps(nps_without),
                    difference=nps_difference(nps_with, nps_without),
                ),
                csat=csat_comparison(csat_with, csat_without),
                churn=_risk_ratio(churn.get(theme_id)),
                trend=[
                    ThemeTrendPoint(
                        month=month,
                        comments=counts.get(theme_id, 0),
                        share=stats.proportion(counts.get(theme_id, 0), sum(counts.values())),
                    )
                    for month, counts in sorted(monthly.items())
                ],
            )
        )
    impacts.sort(key=lambda impact: (-impact.comments, impact.theme_id))
    return ThemesReport(
        date_from=first,
        date_to=last,
        locale=locale,
        commented_answers=commented,
        method=METHOD,
        themes=impacts,
    )


def _risk_ratio(row: dict | None) -> ThemeRiskRatio:
    if row is None:
        return ThemeRiskRatio(
            customers=0, churned=0, other_customers=0, other_churned=0, ratio=None, low=None, high=None
        )
    other_n = row["population"] - row["customers"]
    other_events = row["population_churned"] - row["churned"]
    compared = stats.compare(row["churned"], row["customers"], other_events, other_n)
    return ThemeRiskRatio(
        customers=row["customers"],
        churned=row["churned"],
        other_customers=other_n,
        other_churned=other_events,
        ratio=compared.risk_ratio if compared else None,
        low=compared.risk_ratio_low if compared else None,
        high=compared.risk_ratio_high if compared else None,
    )
