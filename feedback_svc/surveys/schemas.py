"""Surveys, interactions, invitations and answers on the wire."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import UNSET, Meta, UnsetType

from feedback_svc.customers.schemas import Attributes, CustomerRef
from feedback_svc.lib.structs import Wire

Key = Annotated[
    str, Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="Lower-case slug, e.g. support_call.")
]
Channel = Literal["email", "sms", "web"]
Kind = Literal["nps", "csat", "ces"]
Comment = Annotated[str, Meta(max_length=5000, description="Stored as plain text, always escaped on output.")]
Score = Annotated[int, Meta(ge=0, le=10, description="NPS 0-10, CSAT 1-5, CES 1-7.")]


class InteractionCreate(CustomerRef, kw_only=True):
    touchpoint: Key
    occurred_at: Annotated[datetime, Meta(tz=True)]
    channel_preference: Channel | None = None
    external_id: Annotated[str, Meta(min_length=1, max_length=200)] | None = None
    agent: Annotated[str, Meta(max_length=200)] | None = None
    attributes: Attributes | UnsetType = UNSET


class Interaction(Wire):
    id: UUID
    customer_id: UUID
    external_id: str | None
    touchpoint: str
    critical: bool
    occurred_at: datetime
    channel_preference: Channel | None
    agent: str | None
    created_at: datetime


class Invitation(Wire):
    id: UUID
    customer_id: UUID
    survey: str
    kind: Kind
    channel: Channel | None
    status: Literal["scheduled", "queued", "sent", "answered", "suppressed", "failed", "expired"]
    reason: Annotated[str, Meta(description="Why: 'queued: email', 'suppressed: cooldown ...', ...")]
    send_at: datetime | None
    sent_at: datetime | None
    expires_at: datetime
    created_at: datetime
    survey_url: Annotated[
        str | None, Meta(description="Only for channel=web, only in this response: the link to show.")
    ] = None


class InteractionRecorded(Wire):
    interaction: Interaction
    invitation: Invitation | None
    replayed: bool = False


class InvitationCreate(CustomerRef, kw_only=True):
    survey: Key
    channel: Channel | None = None
    interaction_id: UUID | None = None
    send_at: Annotated[datetime, Meta(tz=True)] | None = None


class ResponseCreate(CustomerRef, kw_only=True):
    """An answer collected elsewhere (in-app). Give `invitation_id`, or a customer and a survey."""

    invitation_id: UUID | UnsetType = UNSET
    survey: Key | UnsetType = UNSET
    score: Score
    comment: Comment | None = None
    contact_requested: bool = False
    answered_at: Annotated[datetime, Meta(tz=True)] | None = None


class SurveyResponse(Wire):
    id: UUID
    customer_id: UUID
    invitation_id: UUID | None
    survey: str
    kind: Kind
    score: int
    comment: str | None
    contact_requested: bool
    channel: Literal["email", "sms", "web", "api"]
    touchpoint: str | None
    answered_at: datetime
    updated_at: datetime
    editable_until: datetime


class Survey(Wire):
    key: str
    kind: Kind
    cooldown_days: float
    answer_window_days: float
    token_ttl_days: float
    active: bool
    texts: dict[str, dict[str, str]]


InvitationStatus = Literal["scheduled", "queued", "sent", "answered", "suppressed", "failed", "expired"]


class InvitationEvent(Wire):
    at: datetime
    event: Annotated[
        Literal["scheduled", "queued", "sent", "answered", "suppressed", "failed", "expired", "opened"],
        Meta(description="A status the invitation took, or 'opened': its survey page was first loaded."),
    ]
    reason: str | None
    channel: Channel | None


class InvitationRecord(Wire):
    """An invitation as the CRM reads it back: where it stands, and how it got there."""

    id: UUID
    customer_id: UUID
    customer_external_id: str | None
    survey: str
    kind: Kind
    interaction_id: UUID | None
    channel: Channel | None
    status: InvitationStatus
    reason: str
    locale: str
    send_at: datetime | None
    sent_at: datetime | None
    opened_at: Annotated[
        datetime | None,
        Meta(description="When the link was first followed (mail scanners that follow links count too)."),
    ]
    answered_at: datetime | None
    response_id: UUID | None
    expires_at: datetime
    created_at: datetime
    updated_at: datetime
    history: Annotated[list[InvitationEvent], Meta(description="Oldest first.")]


class InvitationPage(Wire):
    items: list[InvitationRecord]
    next_cursor: Annotated[
        str | None, Meta(description="Pass as `cursor` for the next (older) page; null on the last.")
    ]
