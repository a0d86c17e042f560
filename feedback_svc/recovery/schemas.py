"""Recovery tasks, their evidence and history, and the queue's requests on the wire."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from msgspec import Meta

from feedback_svc.analytics.stats import Estimate
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
MessageChannel = Literal["email", "sms"]
FollowUpStatus = Literal["queued", "sent", "failed", "not_sent"]


class FollowUp(Wire):
    """The closing message a resolution sent (or tried to): what it said and how it went."""

    channel: Annotated[
        MessageChannel | None, Meta(description="Null when no channel could carry it (see `reason`).")
    ]
    status: Annotated[
        FollowUpStatus,
        Meta(
            description="queued (waiting for the worker, quiet hours or a mail server), sent, failed "
            "(the channel refused it), not_sent (opted out, no address, or the customer erased)."
        ),
    ]
    reason: str | None
    source: Annotated[
        Literal["template", "agent"], Meta(description="The outcome's template, or the agent's own words.")
    ]
    locale: Annotated[str | None, Meta(description="The template's locale.")]
    subject: Annotated[str | None, Meta(description="Email only; null once the customer is erased.")]
    text: Annotated[
        str | None, Meta(description="As the customer reads it; null once the customer is erased.")
    ]
    requested_at: datetime
    sent_at: datetime | None


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
    follow_up: Annotated[FollowUp | None, Meta(description="The closing message, when one was asked for.")]
    pulse_due_at: Annotated[
        datetime | None,
        Meta(description="When the pulse survey goes out after this resolution (null: none planned)."),
    ]
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


class Pulse(Wire):
    """The pulse survey of a resolved task: an ordinary invitation of the survey that triggered it."""

    invitation_id: UUID
    survey: str
    kind: Literal["nps", "csat", "ces"]
    status: Annotated[str, Meta(description="The invitation's status: scheduled, queued, sent, answered ...")]
    channel: str | None
    reason: str
    sent_at: datetime | None
    score: Annotated[int | None, Meta(description="The customer's answer, once given.")]
    answered_at: datetime | None


class TaskDetail(Wire):
    task: Task
    evidence: list[Evidence]
    history: list[HistoryEntry]
    pulse: Annotated[Pulse | None, Meta(description="The pulse survey, once its invitation exists.")] = None


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


class FollowUpRequest(Wire):
    channel: Annotated[
        MessageChannel | None,
        Meta(description="Email or SMS; by default the customer's usable channel (email first)."),
    ] = None
    text: (
        Annotated[
            str,
            Meta(
                min_length=1,
                max_length=5000,
                description="Your own words, the whole message; without them the outcome's template in the "
                "customer's locale is sent. An SMS starts with the brand name and takes at most 480 "
                "characters.",
            ),
        ]
        | None
    ) = None


class Resolve(Wire):
    lease_token: UUID
    outcome: Outcome
    root_cause: RootCause
    note: Text | None = None
    agent: AgentName | None = None
    follow_up: Annotated[
        FollowUpRequest | None,
        Meta(
            description="Send the customer a closing message. Opt-outs and erasure are respected: the "
            "message is then stored as not_sent with the reason, and the task is resolved all the same."
        ),
    ] = None


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


TemplateLocale = Annotated[
    str,
    Meta(
        pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$",
        max_length=35,
        description="A BCP 47 language tag such as en, de or pt-BR (stored in lower case).",
    ),
]


class MessageTemplate(Wire):
    outcome: Outcome
    locale: str
    subject: Annotated[str, Meta(description="Email subject.")]
    greeting: Annotated[str, Meta(description="The email's first line, e.g. 'Hello {name},'.")]
    body: Annotated[str, Meta(description="The email's text after the greeting.")]
    sms: Annotated[str, Meta(description="The whole SMS.")]
    updated_at: datetime
    updated_by: str | None


class MessageTemplateUpdate(Wire):
    """Placeholders: {name} (dropped with the space before it if the customer has none), {brand}, {agent}."""

    subject: Annotated[str, Meta(min_length=1, max_length=200)]
    greeting: Annotated[str, Meta(min_length=1, max_length=200)]
    body: Annotated[str, Meta(min_length=1, max_length=5000)]
    sms: Annotated[str, Meta(min_length=1, max_length=320)]


class ScoreChangeRow(Wire):
    dimension: Literal["all", "trigger", "agent", "root_cause", "outcome", "control"]
    key: str | None
    kind: Annotated[
        Literal["nps", "csat", "ces"], Meta(description="Scores are compared on their own scale.")
    ]
    tasks: Annotated[int, Meta(description="Resolved tasks whose triggering answer was of this kind.")]
    paired: Annotated[
        int, Meta(description="... of which the customer answered the same survey again in time.")
    ]
    before: Annotated[float | None, Meta(description="Mean triggering score of the paired tasks.")]
    after: Annotated[float | None, Meta(description="Mean later score of the paired tasks.")]
    change: Annotated[Estimate, Meta(description="Mean of after minus before, 95% t interval; n = paired.")]
    vs_control: Annotated[
        Estimate | None,
        Meta(
            description="This change minus the control group's (same kind; same trigger for trigger rows "
            "when the control group has it), 95% Welch interval. Null without at least two pairs on "
            "either side."
        ),
    ]


class ScoreChange(Wire):
    method: str
    after_days: Annotated[int, Meta(description="How long after resolution a later answer counts.")]
    rows: list[ScoreChangeRow]


class Effectiveness(Wire):
    rows: list[EffectivenessRow]
    promise: PromiseKept
    uplift_90d: Annotated[
        float | None,
        Meta(description="Control churn rate minus treated churn rate at 90 days, when both are observed."),
    ]
    score_change: Annotated[
        ScoreChange,
        Meta(description="The customer's score before recovery (the triggering answer) and after it."),
    ]
