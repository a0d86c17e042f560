"""Recovery seen by managers: who is worth saving (the value-vulnerability matrix) and whether saving works.

Numbers come with their uncertainty: shares carry Wilson intervals, the uplift against the
control group a Newcombe interval, and small samples are flagged like every other estimate.
"""

import asyncio
import itertools
from datetime import date

import asyncpg
import msgspec

from feedback_svc.analytics import queries, stats
from feedback_svc.analytics.schemas import (
    FirstContact,
    MatrixCell,
    RecoveryReport,
    RootCause,
    ValueVulnerabilityReport,
)
from feedback_svc.analytics.service import window
from feedback_svc.recovery import service as recovery
from feedback_svc.scoring.cache import baseline_bundle
from feedback_svc.scoring.queries import KIND
from ml.card import RiskBand

BANDS = 4
QUANTILE_BANDS = ("below median", "median to 80th pct", "80th to 95th pct", "top 5%")
MATRIX_METHOD = (
    "Every customer's latest churn score against their value. Columns split customers at the quartiles "
    "of value, rows at {rows}. Value at risk = value x churn probability."
)
RECOVERY_METHOD = (
    "Recovery rate: recovered among worked tasks resolved in the window (control-group and 'no action "
    "needed' tasks left out), with a 95% Wilson interval. Promises kept: first contact before the "
    "deadline, among tasks opened in the window whose deadline passed or that were contacted. Uplift: "
    "90-day churn of the control group minus that of worked customers, in points, with a 95% Newcombe "
    "interval; only tasks resolved 90 or more days ago count."
)
WORKED_OUTCOMES = ("recovered", "not_recovered", "unreachable")


async def value_vulnerability(conn: asyncpg.Connection | asyncpg.Pool) -> ValueVulnerabilityReport:
    """The matrix with rows at the serving model's risk bands, so the rows split customers as its card does.

    Fixed cuts (25/50/75% churn) put nearly everyone in the bottom row: churn within a horizon
    is rare, and a calibrated model says so. A card without four rising bands falls back to
    the 50th, 80th and 95th percentiles of the scores, where the cards cut them.
    """
    bands, source = await _risk_bands(conn)
    cuts_in = [band.min_probability for band in bands[1:]] if bands else None
    rows = await queries.value_vulnerability(conn, risk_cuts=cuts_in)
    found = {(row["risk_band"], row["value_band"]): row for row in rows}
    cells = []
    for risk in range(BANDS):
        for value in range(BANDS):
            row = found.get((risk, value))
            cells.append(
                MatrixCell(
                    risk_band=risk,
                    value_band=value,
                    customers=row["customers"] if row else 0,
                    value=round(row["value"], 2) if row else 0.0,
                    value_at_risk=round(row["value_at_risk"], 2) if row else 0.0,
                )
            )
    cuts = [round(cut, 2) for cut in rows[0]["cuts"]] if rows else []
    risk_cuts = [round(cut, 4) for cut in (rows[0]["risk_cuts"] if rows else cuts_in or [])]
    names = [band.name for band in bands] if bands else list(QUANTILE_BANDS)
    if bands:
        pairs = zip(names[1:], risk_cuts, strict=True)
        starts = ", ".join(f"{name} from {100 * cut:.1f}%" for name, cut in pairs)
        rows_text = f"the risk bands of {source}'s card ({starts})"
    else:
        rows_text = "the 50th, 80th and 95th percentiles of the churn scores"
    return ValueVulnerabilityReport(
        method=MATRIX_METHOD.format(rows=rows_text),
        customers=sum(c.customers for c in cells),
        value_cuts=cuts,
        risk_bands=names,
        risk_cuts=risk_cuts,
        risk_source=source if bands else "quantiles of the latest scores",
        cells=cells,
    )


async def _risk_bands(conn: asyncpg.Connection | asyncpg.Pool) -> tuple[list[RiskBand] | None, str]:
    """The serving model's bands (the shipped baseline's while no trained model is active)."""
    active = await queries.active_risk_bands(conn, kind=KIND)
    if active is not None:
        bands = msgspec.convert(active["risk_bands"] or [], list[RiskBand])
        source = f"model {active['version']}"
    else:
        baseline = await asyncio.to_thread(baseline_bundle)  # a file read, once per process
        bands, source = list(baseline.card.risk_bands), f"the baseline model {baseline.card.version}"
    starts = [band.min_probability for band in bands]
    if len(bands) != BANDS or any(a >= b for a, b in itertools.pairwise(starts)):
        return None, source
    return bands, source


async def recovery_report(
    conn: asyncpg.Connection | asyncpg.Pool, *, date_from: date | None, date_to: date | None, today: date
) -> RecoveryReport:
    first, last, start, end = window(date_from, date_to, today=today)
    result = await recovery.effectiveness(conn, since=start, until=end)
    by_control = {row.key: row for row in result.rows if row.dimension == "control"}
    treated, control = by_control.get("false"), by_control.get("true")
    worked = sum(getattr(treated, outcome) for outcome in WORKED_OUTCOMES) if treated else 0
    uplift = None
    if treated and control:
        compared = stats.compare(
            control.churned_90d, control.observed_90d, treated.churned_90d, treated.observed_90d
        )
        uplift = compared.difference if compared else None
    causes = [
        row for row in result.rows if row.dimension == "root_cause" and row.key and row.key != "control_group"
    ]
    caused = sum(row.tasks for row in causes)
    root_causes = sorted(
        (
            RootCause(
                root_cause=row.key or "",
                tasks=row.tasks,
                recovered=row.recovered,
                share=stats.proportion(row.tasks, caused),
            )
            for row in causes
        ),
        key=lambda cause: (-cause.tasks, cause.root_cause),
    )
    contact = await queries.first_contact_times(conn, start=start, end=end)
    return RecoveryReport(
        date_from=first,
        date_to=last,
        method=RECOVERY_METHOD,
        resolved=treated.tasks if treated else 0,
        recovery_rate=stats.proportion(treated.recovered if treated else 0, worked),
        first_contact=FirstContact(
            tasks=contact["tasks"],
            contacted=contact["contacted"],
            median_hours=_round(contact["median_hours"]),
            p90_hours=_round(contact["p90_hours"]),
        ),
        promises_kept=stats.proportion(result.promise.kept, result.promise.due),
        escalated=result.promise.escalated,
        uplift_90d=uplift,
        control_observed_90d=control.observed_90d if control else 0,
        treated_observed_90d=treated.observed_90d if treated else 0,
        root_causes=root_causes,
        score_change=result.score_change,
    )


def _round(hours: float | None) -> float | None:
    return None if hours is None else round(hours, 2)
