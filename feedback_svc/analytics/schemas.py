"""Analytics on the wire: estimates always travel with their interval, n and a small-sample flag."""

from datetime import date
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from feedback_svc.analytics.stats import Estimate
from feedback_svc.recovery.schemas import ScoreChange

Kind = Literal["nps", "csat", "ces"]
By = Literal["none", "touchpoint", "channel", "segment", "agent"]
Period = Literal["none", "week", "month"]


class Report(msgspec.Struct, frozen=True, kw_only=True):
    """Base of the analytics answers."""


class ScoreGroup(Report):
    period: date | None
    group: str | None
    estimate: Estimate


class ScoresReport(Report):
    kind: Kind
    by: By
    period: Period
    date_from: date
    date_to: date
    method: str
    overall: Estimate
    groups: list[ScoreGroup]


class RateGroup(Report):
    period: date | None
    group: str | None
    sent: int
    answered: int
    rate: Estimate


class ResponseRatesReport(Report):
    by: By
    period: Period
    date_from: date
    date_to: date
    overall: RateGroup
    groups: list[RateGroup]


class Driver(Report):
    touchpoint: str
    outcome: Literal["detractor", "churn"]
    exposed_events: int
    exposed_n: int
    unexposed_events: int
    unexposed_n: int
    difference_points: Estimate
    risk_ratio: float | None
    risk_ratio_low: float | None
    risk_ratio_high: float | None


class DriversReport(Report):
    date_from: date
    date_to: date
    method: str
    detractors: list[Driver]
    churn: list[Driver]


class MatrixCell(Report):
    risk_band: int
    value_band: int
    customers: int
    value: float
    value_at_risk: float


class ValueVulnerabilityReport(Report):
    method: str
    customers: int
    value_cuts: list[float]
    risk_bands: Annotated[list[str], Meta(description="Row names, risk_band 0 first (lowest risk).")]
    risk_cuts: Annotated[
        list[float], Meta(description="The churn probabilities where rows 1, 2 and 3 start.")
    ]
    risk_source: Annotated[
        str, Meta(description="Where the rows' cuts come from: the serving model's card, or quantiles.")
    ]
    cells: list[MatrixCell]


class RootCause(Report):
    root_cause: str
    tasks: int
    recovered: int
    share: Estimate


class FirstContact(Report):
    tasks: int
    contacted: int
    median_hours: float | None
    p90_hours: float | None


class RecoveryReport(Report):
    date_from: date
    date_to: date
    method: str
    resolved: int
    recovery_rate: Estimate
    first_contact: FirstContact
    promises_kept: Estimate
    escalated: int
    uplift_90d: Estimate | None
    control_observed_90d: int
    treated_observed_90d: int
    root_causes: list[RootCause]
    score_change: Annotated[
        ScoreChange,
        Meta(
            description="Scores before and after recovery per trigger, agent and root cause, against control."
        ),
    ]
