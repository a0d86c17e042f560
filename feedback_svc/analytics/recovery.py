"""Recovery seen by managers: who is worth saving (the value-vulnerability matrix) and whether saving works.

Numbers come with their uncertainty: shares carry Wilson intervals, the uplift against the
control group a Newcombe interval, and small samples are flagged like every other estimate.
"""

from datetime import date

import asyncpg

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

BANDS = 4
MATRIX_METHOD = (
    "Every customer's latest churn score against their value. Columns split customers at the quartiles "
    "of value, rows at churn probability 25/50/75%. Value at risk = value x churn probability."
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
    rows = await queries.value_vulnerability(conn)
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
    return ValueVulnerabilityReport(
        method=MATRIX_METHOD, customers=sum(c.customers for c in cells), value_cuts=cuts, cells=cells
    )


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
    )


def _round(hours: float | None) -> float | None:
    return None if hours is None else round(hours, 2)
