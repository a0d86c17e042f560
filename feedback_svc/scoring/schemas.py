"""Scores and model versions on the wire."""

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import UNSET, Meta, UnsetType

from feedback_svc.customers.schemas import ExternalId
from feedback_svc.lib.structs import Wire

MAX_BATCH = 1000
RiskBand = Literal["low", "medium", "high", "critical"]
# JSON has no NaN; the bounds also refuse 1e999, which parsers read as infinity
FiniteNumber = Annotated[float, Meta(ge=-1e15, le=1e15)]
FreshAttributes = Annotated[
    dict[Annotated[str, Meta(min_length=1, max_length=64)], str | FiniteNumber | bool | None],
    Meta(
        max_length=100,
        description="Attributes as the CRM knows them right now; they replace the stored ones of the "
        "same name for this score only (store them with POST /v1/customers). A null or missing "
        "numeric input is imputed and listed in `imputed`.",
    ),
]


class ScoreItem(Wire):
    """A customer to score, by our id or the CRM's: exactly one."""

    customer_id: UUID | UnsetType = UNSET
    customer_external_id: ExternalId | UnsetType = UNSET
    attributes: FreshAttributes | UnsetType = UNSET
    value: Annotated[float, Meta(ge=0, le=1e12, description="Customer value right now.")] | UnsetType = UNSET


AsOf = Annotated[
    datetime,
    Meta(
        tz=True,
        description="Score as of this past moment (with a UTC offset): a backtest. Every input is read "
        "as it was then; nothing is stored and no `customer.at_risk` event is emitted.",
    ),
]


class ScoreRequest(Wire):
    items: Annotated[
        list[ScoreItem],
        Meta(min_length=1, max_length=MAX_BATCH, description=f"1 to {MAX_BATCH} customers."),
    ]
    as_of: AsOf | UnsetType = UNSET
    model_version: (
        Annotated[
            str,
            Meta(
                min_length=1,
                max_length=100,
                description="With `as_of` only: score with this registered version instead of the active "
                "one (a model trained as of the same date makes an honest backtest).",
            ),
        ]
        | UnsetType
    ) = UNSET


class Reason(Wire):
    feature: Annotated[str, Meta(description="The input, e.g. latest_nps or attr:support_tickets_open.")]
    label: str
    value: float | str | bool | None
    contribution: Annotated[
        float,
        Meta(
            description="How much this input moves the churn log-odds away from the typical customer's; "
            "positive raises the risk."
        ),
    ]
    text: Annotated[str, Meta(description="The reason in plain words.")]


class LifetimeValue(Wire):
    horizon_days: Annotated[int, Meta(description="The model's churn horizon; the forecasts are over it.")]
    expected_purchases: Annotated[
        float, Meta(ge=0, description="Expected purchase days within the horizon (BG/NBD).")
    ]
    expected_value: (
        Annotated[
            float,
            Meta(
                ge=0,
                description="Expected spend within the horizon (BG/NBD x Gamma-Gamma); null when purchases "
                "carry no amounts to learn spend from (`lifetime_value_unavailable` says so).",
            ),
        ]
        | None
    )
    probability_alive: Annotated[
        float, Meta(ge=0, le=1, description="P(still a customer), from the purchase rhythm (BG/NBD).")
    ]


class Score(Wire):
    id: Annotated[
        int | None, Meta(description="The stored score's id; null when not stored (GET, or a backtest).")
    ]
    customer_id: UUID
    churn_probability: Annotated[float, Meta(ge=0, le=1)]
    risk_band: Annotated[
        RiskBand, Meta(description="The model card's band for this probability (its exact edges).")
    ]
    loyalty_probability: (
        Annotated[
            float,
            Meta(
                ge=0,
                le=1,
                description="P(the customer is a promoter); null when the model has no loyalty part "
                "(`loyalty_unavailable` says why).",
            ),
        ]
        | None
    )
    loyalty_index: (
        Annotated[
            int,
            Meta(
                ge=0, le=100, description="round(100*sqrt(P(promoter)*(1-P(churn)))); null without loyalty."
            ),
        ]
        | None
    )
    loyalty_unavailable: Annotated[
        str | None,
        Meta(
            description="Why loyalty is null, e.g. too few NPS answers to learn it from when the model "
            "was trained; null when loyalty is there."
        ),
    ]
    value_at_risk: Annotated[
        float,
        Meta(
            description="Value x churn probability: the customer's value from the CRM, or, when the CRM "
            "sent none (0), the expected value within the horizon (`value_basis`)."
        ),
    ]
    value_basis: Annotated[
        Literal["crm", "lifetime_value", "none"],
        Meta(description="Which value `value_at_risk` multiplied."),
    ]
    lifetime_value: Annotated[
        LifetimeValue | None,
        Meta(description="From purchase history; null with `lifetime_value_unavailable` saying why."),
    ]
    lifetime_value_unavailable: Annotated[
        str | None,
        Meta(
            description="Why `lifetime_value` (or its expected value) is null, e.g. no purchase yet; "
            "null when it is all there."
        ),
    ]
    reasons: Annotated[list[Reason], Meta(description="The three inputs that move the risk most.")]
    imputed: Annotated[list[str], Meta(description="Inputs that had no value and were imputed.")]
    model_version: str
    as_of: Annotated[datetime, Meta(description="The moment the inputs were read as of.")]
    scored_at: Annotated[datetime, Meta(description="When the score was computed.")]


class ItemError(Wire):
    status: int
    title: str
    detail: str


class ScoreResult(Wire):
    customer_id: Annotated[UUID | None, Meta(description="Null when the CRM's id named nobody.")]
    status: Literal["scored", "failed"]
    customer_external_id: Annotated[
        str | None, Meta(description="The CRM's id, when the item named the customer by it.")
    ] = None
    score: Score | None = None
    error: ItemError | None = None


class ScoreBatch(Wire):
    scored: int
    failed: int
    model_version: str
    results: Annotated[list[ScoreResult], Meta(description="One per item, in the request's order.")]


class ModelVersion(Wire):
    version: str
    kind: str
    active: bool
    created_at: datetime
    activated_at: datetime | None
    metrics: dict[str, dict[str, float]]


class ModelList(Wire):
    serving: Annotated[
        str, Meta(description="The version answering scores now (the baseline if none active).")
    ]
    baseline_version: str
    models: list[ModelVersion]


class ModelDetail(ModelVersion, kw_only=True):
    card: dict[str, object]


class ActivateRequest(Wire):
    force: Annotated[bool, Meta(description="Activate even if it does not beat the active model.")] = False


class Comparison(Wire):
    holdout_cutoff: datetime
    candidate: dict[str, float]
    active: dict[str, float]
    candidate_wins: bool
    reason: str


class Activation(Wire):
    action: Literal["activate", "rollback"]
    active_version: Annotated[str, Meta(description="What serves now.")]
    previous_version: str
    forced: bool
    reason: str
    comparison: Comparison | None = None


class TrainingRequest(Wire, frozen=True):
    activate: Annotated[bool, Meta(description="Activate the new version if it beats the active one.")] = (
        False
    )
    force: Annotated[bool, Meta(description="With activate: activate even if it does not.")] = False
    horizon_days: (
        Annotated[
            int,
            Meta(ge=7, le=730, description="Churn horizon in days (default FEEDBACK_CHURN_HORIZON_DAYS)."),
        ]
        | None
    ) = None
    as_of: (
        Annotated[
            datetime,
            Meta(
                tz=True,
                description="Train as if it were this moment (with a UTC offset; default now): nothing "
                "later is read, so a model trained as of a past date can be backtested on what followed.",
            ),
        ]
        | None
    ) = None


class TrainingRun(Wire):
    id: UUID
    status: Literal["queued", "running", "succeeded", "failed"]
    activate: bool
    force: bool
    horizon_days: Annotated[int | None, Meta(description="Null: the deployment's default.")]
    as_of: Annotated[datetime | None, Meta(description="Null: when the run starts.")]
    labels: Annotated[
        Literal["contractual", "non_contractual"] | None,
        Meta(description="The label policy it trained with (docs/churn-labels.md); set when it starts."),
    ]
    progress: float
    message: str | None
    model_version: str | None
    activated: bool | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class AtRiskRule(Wire):
    kind: Annotated[
        Literal["risk_band", "churn_probability", "value_at_risk"],
        Meta(
            description="`risk_band`: the model card's critical band (the default); `value_at_risk`: "
            "value x churn probability at or over FEEDBACK_PROACTIVE_MIN_VALUE_AT_RISK; "
            "`churn_probability`: FEEDBACK_AT_RISK_THRESHOLD."
        ),
    ]
    threshold: Annotated[float, Meta(description="The critical band's lower edge, or the setting's amount.")]
    text: str


class ScoringRun(Wire):
    """One scoring of every active customer (docs/scheduled-scoring.md)."""

    id: UUID
    status: Literal["running", "succeeded", "failed"]
    trigger: Annotated[Literal["schedule", "api", "cli"], Meta(description="What started it.")]
    requested_by: str
    model_version: Annotated[str, Meta(description="The model active when it started; every range used it.")]
    at_risk_rule: AtRiskRule
    daily_limit: Annotated[int, Meta(description="FEEDBACK_PROACTIVE_TASKS_PER_DAY when it started.")]
    batch_size: int
    ranges: Annotated[int, Meta(description="Id ranges of batch_size customers the run was cut into.")]
    ranges_done: Annotated[int, Meta(description="Ranges scored (or given up after three failures).")]
    customers_scored: Annotated[int, Meta(description="Active customers scored (so far, while running).")]
    customers_skipped: Annotated[int, Meta(description="Erased customers and those known to have churned.")]
    at_risk: Annotated[int, Meta(description="Scores the at-risk rule flagged.")]
    tasks_opened: Annotated[int, Meta(description="Proactive tasks it opened (highest value at risk first).")]
    already_queued: Annotated[int, Meta(description="At-risk customers with an open task already.")]
    left_out: Annotated[int, Meta(description="At-risk customers the daily limit left out.")]
    message: str | None
    error: str | None
    started_at: datetime
    finished_at: datetime | None


class ProactiveDay(Wire):
    day: Annotated[date, Meta(description="The UTC day the daily limit counts.")]
    daily_limit: int
    opened: Annotated[int, Meta(description="Proactive tasks opened today, by every path.")]
    left_out: Annotated[int, Meta(description="At-risk customers not queued today because of the limit.")]


class ScoringRunList(Wire):
    items: list[ScoringRun]
    today: ProactiveDay
