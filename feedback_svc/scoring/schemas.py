"""Scores and model versions on the wire."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import UNSET, Meta, UnsetType

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
    customer_id: UUID
    attributes: FreshAttributes | UnsetType = UNSET
    value: Annotated[float, Meta(ge=0, le=1e12, description="Customer value right now.")] | UnsetType = UNSET


class ScoreRequest(Wire):
    items: Annotated[
        list[ScoreItem],
        Meta(min_length=1, max_length=MAX_BATCH, description=f"1 to {MAX_BATCH} customers."),
    ]


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


class Score(Wire):
    id: Annotated[int | None, Meta(description="The stored score's id; null when not stored (GET).")]
    customer_id: UUID
    churn_probability: Annotated[float, Meta(ge=0, le=1)]
    risk_band: RiskBand
    loyalty_probability: Annotated[float, Meta(ge=0, le=1, description="P(the customer is a promoter).")]
    loyalty_index: Annotated[int, Meta(ge=0, le=100, description="round(100*sqrt(P(promoter)*(1-P(churn))))")]
    value_at_risk: Annotated[float, Meta(description="Customer value x churn probability.")]
    reasons: Annotated[list[Reason], Meta(description="The three inputs that move the risk most.")]
    imputed: Annotated[list[str], Meta(description="Inputs that had no value and were imputed.")]
    model_version: str
    scored_at: datetime


class ItemError(Wire):
    status: int
    title: str
    detail: str


class ScoreResult(Wire):
    customer_id: UUID
    status: Literal["scored", "failed"]
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


class TrainingRequest(Wire):
    activate: Annotated[bool, Meta(description="Activate the new version if it beats the active one.")] = (
        False
    )
    force: Annotated[bool, Meta(description="With activate: activate even if it does not.")] = False


class TrainingRun(Wire):
    id: UUID
    status: Literal["queued", "running", "succeeded", "failed"]
    activate: bool
    force: bool
    progress: float
    message: str | None
    model_version: str | None
    activated: bool | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
