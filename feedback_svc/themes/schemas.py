"""Comment themes on the wire: themes, their runs, renames and merges, and their analytics."""

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from feedback_svc.analytics.stats import Estimate
from feedback_svc.lib.structs import Wire

ThemeId = Annotated[int, Meta(ge=1, le=2**63 - 1)]
Label = Annotated[
    str,
    Meta(min_length=1, max_length=120, pattern=r"\S", description="What the theme is about, for people."),
]
ThemeStatus = Literal["active", "dormant", "merged"]


class Theme(Wire):
    id: int
    locale: Annotated[str, Meta(description="Language of the comments it was found in (`und`: unknown).")]
    label: str
    label_source: Annotated[
        Literal["auto", "manager"],
        Meta(description="`auto`: its top words when found; `manager`: renamed, and kept by later runs."),
    ]
    top_words: list[str]
    status: Annotated[
        ThemeStatus,
        Meta(
            description="`active`: found by the latest run; `dormant`: not found again (id and label kept, "
            "it comes back when a run finds it); `merged`: merged into `merged_into`."
        ),
    ]
    merged_into: int | None
    comments: Annotated[int, Meta(description="Comments assigned to it now.")]
    renamed_by: str | None
    renamed_at: datetime | None
    merged_by: str | None
    merged_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ThemeList(Wire):
    items: list[Theme]


class ThemeExample(Wire):
    response_id: UUID
    kind: str
    score: int
    comment: str
    answered_at: datetime
    touchpoint: str | None
    weight: Annotated[float, Meta(description="How much of the comment is about this theme (0-1).")]


class ThemeDetail(Wire):
    theme: Theme
    examples: list[ThemeExample]


class ThemeRename(Wire):
    label: Label


class ThemeMerge(Wire):
    into: Annotated[ThemeId, Meta(description="The theme that takes this one's comments, id and label.")]


class ThemeRun(Wire):
    id: UUID
    status: Literal["queued", "running", "succeeded", "failed"]
    requested_by: str
    message: str | None
    error: str | None
    summary: Annotated[
        dict[str, dict[str, int]],
        Meta(description="Per language: comments read, themes found, kept from earlier runs, and new."),
    ]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ThemeRunList(Wire):
    items: list[ThemeRun]


class ThemeComparison(msgspec.Struct, frozen=True, kw_only=True):
    """An outcome with the theme against the other themed comments."""

    with_theme: Estimate
    without_theme: Estimate
    difference: Estimate


class ThemeRiskRatio(msgspec.Struct, frozen=True, kw_only=True):
    customers: int
    churned: int
    other_customers: int
    other_churned: int
    ratio: float | None
    low: float | None
    high: float | None


class ThemeTrendPoint(msgspec.Struct, frozen=True, kw_only=True):
    month: date
    comments: int
    share: Estimate


class ThemeImpact(msgspec.Struct, frozen=True, kw_only=True):
    theme_id: int
    label: str
    locale: str
    status: ThemeStatus
    top_words: list[str]
    comments: int
    share: Estimate
    nps: ThemeComparison
    csat: ThemeComparison
    churn: ThemeRiskRatio
    trend: list[ThemeTrendPoint]


class ThemesReport(msgspec.Struct, frozen=True, kw_only=True):
    date_from: date
    date_to: date
    locale: str | None
    commented_answers: int
    method: str
    themes: list[ThemeImpact]
