"""Recovery tasks, their evidence and history, and the queue's requests on the wire."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from msgspec import Meta

from feedback_svc.lib.structs import Wire

Trigger = Literal["contact_requested", "nps_detractor", "csat_low", "ces_high_effort", "churn_risk"]
TRIGGERS: tuple[str, ...] = Trigger.__args__  # type: ignore[attr-defined]
Outcome = Literal["recovered", "not_recovered", "unreachable", "no_action_needed"]
Status = Literal["open", "resolved"]
AgentName = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=100,
        description="Optional. Who acts is the agent the API key was created for: when sent, this must "
        "be that agent (403 otherwise). A key that acts for no agent may send a display name for the "
        "history; it is never an identity and never matches an assignment.",
    ),
]
RootCause = Annotated[
    str,
    Meta(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
        description="A lessons-learned tag, e.g. late_delivery, billing_error, rude_agent.",
    ),
]
LeaseSeconds = Annotated[
    int, Meta(ge=1, le=86400, description="Lease length; the server default if omitted.")
]
Text = Annotated[str, Meta(min_length=1, max_length=5000)]


class PriorityReason(Wire):
    factor: Literal["urgency", "value_at_risk", "critical_touchpoint", "repeated_signals", "escalated"]
    points: float
    text: Annotated[str, Meta(description="Why, in words and numbers.")]


class Task(Wire):
    id: UUID
    customer_id: UUID
    status: Status
    trigger: Trigger
    touchpoint: str | None
    critical: bool
    priority: float
    priority_reasons: list[PriorityReason]
    value_at_risk: float
    deadline_at: datetime
    overdue: bool
    escalated_at: datetime | None
    control: Annotated[bool, Meta(description="In the control group: deliberately left uncontacted.")]
    assignee: str | None
    lease_holder: str | None
    lease_expires_at: datetime | None
    first_contact_at: datetime | None
    outcome: Outcome | None
    root_cause: str | None
    resolved_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ClaimedTask(Task, kw_only=True):
    lease_token: Annotated[UUID, Meta(description="Send it with every change while you hold the task.")]


class Evidence(Wire):
    id: int
    trigger: Trigger
    response_id: UUID | None
    score_id: int | None
    details: dict[str, Any]
    created_at: datetime


class HistoryEntry(Wire):
    id: int
    actor: str
    action: str
    details: dict[str, Any]
    created_at: datetime


class TaskDetail(Wire):
    task: Task
    evidence: list[Evidence]
    history: list[HistoryEntry]


class TaskPage(Wire):
    items: list[Task]
    next_cursor: Annotated[str | None, Meta(description="Pass as `cursor` for the next page.")]


class ClaimRequest(Wire):
    agent: AgentName | None = None
    lease_seconds: LeaseSeconds | None = None


class LeaseExtend(Wire):
    lease_token: UUID
    lease_seconds: LeaseSeconds | None = None
    agent: AgentName | None = None


class LeaseRelease(Wire):
    lease_token: UUID
    agent: AgentName | None = None


class Assign(Wire):
    assignee: (
        Annotated[
            str,
            Meta(
                min_length=1,
                max_length=320,
                description="An enabled console user's email or the agent of a live API key; null unassigns.",
            ),
        ]
        | None
    )
    lease_token: Annotated[
        UUID | None,
        Meta(description="Your lease on the task; only an admin key may assign without one."),
    ] = None
    agent: AgentName | None = None


class NoteCreate(Wire):
    lease_token: UUID
    text: Text
    agent: AgentName | None = None


class ContactAttempt(Wire):
    lease_token: UUID
    channel: Literal["phone", "email", "sms", "chat", "visit", "other"]
    reached: bool
    note: Text | None = None
    agent: AgentName | None = None


class Resolve(Wire):
    lease_token: UUID
    outcome: Outcome
    root_cause: RootCause
    note: Text | None = None
    agent: AgentName | None = None


class Reopen(Wire):
    reason: Text
    agent: AgentName | None = None


class Rule(Wire):
    trigger: Trigger
    enabled: bool
    urgency: float
    deadline_hours: float
    critical_deadline_hours: float
    high_value_deadline_hours: float
    updated_at: datetime


# at least 36 s: a smaller deadline rounds to a zero interval, which the table refuses
Hours = Annotated[float, Meta(ge=0.01, le=24 * 90)]


class RuleUpdate(Wire):
    enabled: bool
    urgency: Annotated[float, Meta(ge=0, le=1)]
    deadline_hours: Hours
    critical_deadline_hours: Hours
    high_value_deadline_hours: Hours


class EffectivenessRow(Wire):
    dimension: Literal["all", "trigger", "agent", "root_cause", "outcome", "control"]
    key: str | None
    tasks: int
    recovered: int
    not_recovered: int
    unreachable: int
    no_action_needed: int
    observed_30d: Annotated[int, Meta(description="Resolved at least 30 days ago: the 30-day rates' base.")]
    churned_30d: int
    renewed_30d: int
    churn_rate_30d: float | None
    observed_90d: int
    churned_90d: int
    renewed_90d: int
    churn_rate_90d: float | None


class PromiseKept(Wire):
    due: Annotated[int, Meta(description="Tasks whose deadline passed or that were contacted.")]
    kept: Annotated[int, Meta(description="First contact before the deadline.")]
    rate: float | None
    escalated: int


class Effectiveness(Wire):
    rows: list[EffectivenessRow]
    promise: PromiseKept
    uplift_90d: Annotated[
        float | None,
        Meta(description="Control churn rate minus treated churn rate at 90 days, when both are observed."),
    ]
