"""Analytics on the wire: estimates always travel with their interval, n and a small-sample flag."""

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

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


AgentMetric = Literal[
    "tasks",
    "first_contact",
    "promises",
    "promises_broken",
    "worked",
    "recovered",
    "not_recovered",
    "unreachable",
    "no_action_needed",
    "score_change",
    "churn_90d",
    "churned_90d",
]


class Outcomes(Report):
    recovered: int
    not_recovered: int
    unreachable: int
    no_action_needed: int


class AgentPerformance(Report):
    """One agent's numbers (or the team's), each Estimate with its 95% interval, n and small-sample flag.

    first_contact_hours: median hours from opening (or reopening) to the first contact attempt,
    distribution-free interval, n = contacted tasks. promises_kept: % of due promises kept (first
    contact by the deadline), Wilson. recovered_share: % recovered of worked tasks (recovered, not
    recovered, unreachable), Wilson. score_change: mean change of the customer's score on the same
    survey after resolution in % of the scale's range (positive: happier; CES turned so), t interval.
    churn_90d: % who churned within 90 days after resolution among tasks resolved 90+ days ago (the
    label policy's sense of churn), Wilson. *_vs_rest: this agent minus the rest of the team in
    points, Newcombe; null for the team.
    """

    agent: Annotated[
        str | None,
        Meta(description="Who resolved the tasks (a console user's email or a key's agent); null: the team."),
    ]
    name: Annotated[str | None, Meta(description="The console user's name, when the agent is one.")]
    tasks: Annotated[int, Meta(description="Tasks resolved in the window, control tasks left out.")]
    critical: Annotated[int, Meta(description="Of them, tasks after a moment of truth (shorter deadlines).")]
    first_contact_hours: Estimate
    promises_kept: Estimate
    promises_broken: Annotated[int, Meta(description="Due promises not kept.")]
    outcomes: Outcomes
    recovered_share: Estimate
    score_change: Estimate
    with_survey: Annotated[int, Meta(description="Tasks opened by a survey answer, who could answer again.")]
    churn_90d: Estimate
    churned_90d: Annotated[int, Meta(description="Customers behind `churn_90d` who churned.")]
    promises_kept_vs_rest: Estimate | None
    recovered_share_vs_rest: Estimate | None
    churn_90d_vs_rest: Estimate | None


class AgentsReport(Report):
    date_from: date
    date_to: date
    method: str
    churn_labels: Literal["contractual", "non_contractual"]
    small_sample_below: Annotated[int, Meta(description="Estimates on fewer cases than this are flagged.")]
    team: AgentPerformance
    agents: Annotated[list[AgentPerformance], Meta(description="By name, not by any number.")]


class AgentTask(Report):
    task_id: UUID
    customer_id: UUID
    trigger: str
    touchpoint: str | None
    critical: bool
    opened_at: Annotated[datetime, Meta(description="Created, or last reopened.")]
    deadline_at: datetime
    first_contact_at: datetime | None
    hours_to_first_contact: float | None
    promise_due: bool
    promise_kept: bool
    resolved_at: datetime
    outcome: str
    survey_kind: Kind | None
    score_before: Annotated[int | None, Meta(description="The answer that opened the task.")]
    score_after: Annotated[
        int | None, Meta(description="The first answer to the same survey within 90 days after resolution.")
    ]
    answered_after_at: datetime | None
    score_change: float | None
    churn_observed: Annotated[bool, Meta(description="90 days since resolution have passed.")]
    churned_90d: bool | None


class AgentTasksPage(Report):
    agent: str
    metric: AgentMetric
    date_from: date
    date_to: date
    tasks: list[AgentTask]
    next_cursor: Annotated[str | None, Meta(description="Send as `cursor` for the next page; null: the end.")]
