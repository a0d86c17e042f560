"""Did recovery change what customers think? Their score before a task and after it, against control.

Before is the answer that triggered the task (the first answer among its evidence); after is the
customer's first answer of the same survey after the resolution, within a window (the pulse, or any
other answer that came first). Scores are compared on their own scale, so NPS, CSAT and CES each
get their rows. A detractor's next answer tends to be better whatever anyone does (regression to
the mean), which is why the control group's change over the same window is the yardstick.
"""

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from feedback_svc.analytics.stats import difference_of_means, mean_interval
from feedback_svc.recovery import queries
from feedback_svc.recovery.schemas import ScoreChange, ScoreChangeRow

METHOD = (
    "Before: the answer that triggered the task. After: the customer's first answer of the same survey "
    "after the resolution, within {days} days (the pulse survey, or any earlier answer). Change: the mean "
    "of after minus before on the survey's own scale, with a 95% t interval, over the tasks that have "
    "both (n). Against control: that change minus the control group's over the same window (its tasks "
    "of the same trigger for trigger rows, when at least two have both scores), with a 95% Welch "
    "interval. Fewer than 30 pairs is a small sample."
)
DEFAULT_AFTER_DAYS = 60


def _summary(row: dict[str, Any]) -> tuple[float, float, int]:
    return row["mean_change"] or 0.0, row["var_change"] or 0.0, row["paired"]


async def score_change(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    since: datetime | None,
    until: datetime | None,
    after_days: int = DEFAULT_AFTER_DAYS,
) -> ScoreChange:
    found = await queries.score_change(conn, since=since, until=until, after=timedelta(days=after_days))
    control = {
        (row["kind"], row["key"] if row["dimension"] == "trigger" else None): row
        for row in found
        if row["control"] and row["dimension"] in ("all", "trigger")
    }
    rows = []
    for row in found:
        if row["control"] and row["dimension"] != "all":
            continue  # the control group is left alone: it has no agent, root cause or outcome of its own
        if row["control"]:
            versus = None
        else:
            matched = control.get((row["kind"], row["key"])) if row["dimension"] == "trigger" else None
            reference = matched if matched and matched["paired"] >= 2 else control.get((row["kind"], None))
            versus = difference_of_means(_summary(row), _summary(reference)) if reference else None
        rows.append(
            ScoreChangeRow(
                dimension="control" if row["control"] else row["dimension"],
                key=None if row["control"] else row["key"],
                kind=row["kind"],
                tasks=row["tasks"],
                paired=row["paired"],
                before=_round(row["before"]),
                after=_round(row["after"]),
                change=mean_interval(row["mean_change"], row["var_change"], row["paired"]),
                vs_control=versus,
            )
        )
    return ScoreChange(method=METHOD.format(days=after_days), after_days=after_days, rows=rows)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
