"""Surveys, interactions, invitations and answers on the wire."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import UNSET, Meta, UnsetType

from feedback_svc.customers.schemas import Attributes, CustomerRef
from feedback_svc.lib.structs import Wire

KEY_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
Key = Annotated[str, Meta(pattern=KEY_PATTERN, description="Lower-case slug, e.g. support_call.")]
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


class Reminder(Wire):
    """One reminder of an unanswered invitation, by number (1 is the first)."""

    number: int
    status: Annotated[
        Literal["scheduled", "sending", "sent", "skipped", "failed"],
        Meta(
            description="skipped: not worth sending when it came due (answered, opted out, link expired, "
            "turned off); `reason` says which."
        ),
    ]
    channel: Literal["email", "sms"] | None
    due_at: datetime
    sent_at: datetime | None
    reason: str | None


class InteractionRecorded(Wire):
    interaction: Interaction
    invitation: Invitation | None
    replayed: bool = False
    no_survey_reason: Annotated[
        str | None,
        Meta(
            description="Why no invitation: 'touchpoint installation_visit retired', 'its rule sends none'."
        ),
    ] = None


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
    active: Annotated[bool, Meta(description="False once retired: it sends nothing new.")]
    texts: Annotated[dict[str, dict[str, str]], Meta(description="The current version's own texts.")]
    version: Annotated[int, Meta(description="The current version; new invitations are made with it.")] = 1
    retired_at: datetime | None = None


DelayMinutes = Annotated[float, Meta(ge=0, le=30 * 24 * 60)]
ReminderCount = Annotated[int, Meta(ge=0, le=3, description="0 turns reminders off for this touchpoint.")]
ReminderHours = Annotated[float, Meta(ge=1, le=30 * 24)]
TouchpointChannel = Literal["email", "sms", "web"]
CooldownDays = Annotated[float, Meta(ge=0, le=3650)]


class ReminderSettings(Wire):
    """What an invitation after this touchpoint gets: `count` reminders, each `delay_hours` after
    the invitation (then after the reminder before)."""

    count: int
    delay_hours: float


class Touchpoint(Wire):
    key: str
    name: str
    critical: Annotated[bool, Meta(description="A moment of truth: faster recovery deadlines.")]
    survey: Annotated[str | None, Meta(description="The survey sent after it; null: none.")]
    invite_delay_minutes: float
    reminder_count: Annotated[
        int | None, Meta(description="null: the service's default (FEEDBACK_REMINDER_COUNT).")
    ]
    reminder_delay_hours: Annotated[
        float | None, Meta(description="null: the service's default (FEEDBACK_REMINDER_DELAY_HOURS).")
    ]
    reminders: Annotated[ReminderSettings, Meta(description="What applies now, defaults filled in.")]
    updated_at: datetime
    display_names: Annotated[
        dict[str, str],
        Meta(description="{touchpoint} in the customer's language (pt-BR, pt, en), else `name`."),
    ] = msgspec.field(default_factory=dict)
    retired_at: Annotated[
        datetime | None, Meta(description="Set once retired: interactions with it get no survey.")
    ] = None
    channel_preference: Annotated[
        TouchpointChannel | None,
        Meta(description="Tried first; null: email, then SMS. An interaction's own preference wins."),
    ] = None
    cooldown_days: Annotated[
        float | None,
        Meta(description="Days after the last invitation before it surveys again; null: the survey's."),
    ] = None


class TouchpointUpdate(Wire):
    """The whole rule (display names excepted: left out, they stay); a touchpoint not known yet is
    created."""

    name: Annotated[str, Meta(min_length=1, max_length=200)]
    survey: Annotated[Key | None, Meta(description="The survey sent after it; null: none.")]
    critical: bool = False
    invite_delay_minutes: DelayMinutes = 60.0
    reminder_count: ReminderCount | None = None
    reminder_delay_hours: ReminderHours | None = None
    channel_preference: Annotated[
        TouchpointChannel | None,
        Meta(description="Tried first; null: email, then SMS. An interaction's own preference wins."),
    ] = None
    cooldown_days: Annotated[
        CooldownDays | None,
        Meta(description="Overrides the survey's cooldown for this touchpoint; null: the survey's."),
    ] = None
    display_names: (
        Annotated[
            dict[Annotated[str, Meta(max_length=35)], Annotated[str, Meta(min_length=1, max_length=100)]],
            Meta(description='Per language tag, e.g. {"de": "Installationstermin"}; left out: unchanged.'),
        ]
        | UnsetType
    ) = UNSET


InvitationStatus = Literal["scheduled", "queued", "sent", "answered", "suppressed", "failed", "expired"]


class InvitationEvent(Wire):
    at: datetime
    event: Annotated[
        Literal[
            "scheduled", "queued", "sent", "answered", "suppressed", "failed", "expired", "opened", "reminded"
        ],
        Meta(
            description="A status the invitation took; 'opened': its survey page was first loaded; "
            "'reminded': a reminder went out (`channel` says how)."
        ),
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
    reminders_sent: Annotated[int, Meta(description="Reminders that went out for this invitation.")]
    last_reminded_at: datetime | None
    next_reminder_at: Annotated[
        datetime | None,
        Meta(description="When the next reminder is due, while the invitation waits for an answer."),
    ]
    reminders: Annotated[
        list[Reminder],
        Meta(description="Each reminder planned, sent, skipped or failed, and why; by number."),
    ]
    history: Annotated[list[InvitationEvent], Meta(description="Oldest first.")]


class InvitationPage(Wire):
    items: list[InvitationRecord]
    next_cursor: Annotated[
        str | None, Meta(description="Pass as `cursor` for the next (older) page; null on the last.")
    ]


# -- survey definitions through the API (definitions.py) ------------------------------------

LocaleTag = Annotated[
    str,
    Meta(
        pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$",
        max_length=35,
        description="A language tag Babel knows, such as en, de or pt-BR.",
    ),
]
PLACEHOLDER_NOTE = (
    "Placeholders: {brand}, {touchpoint} (its display name in the customer's language), {agent} "
    "(who handled the interaction; without one, the brand) and {date} (the interaction's day, in the "
    "customer's time zone and language). Anything else in braces is refused with 422."
)


class LocaleTexts(Wire):
    """A survey's own wording in one language; what it leaves out comes from the next language in
    the customer's chain (pt-BR, pt, en) or the shipped wording."""

    question: Annotated[str, Meta(description="The score question.")] | UnsetType = UNSET
    low_label: Annotated[str, Meta(description="The scale's low end.")] | UnsetType = UNSET
    high_label: Annotated[str, Meta(description="The scale's high end.")] | UnsetType = UNSET
    reason: Annotated[str, Meta(description="The follow-up: why this score?")] | UnsetType = UNSET
    contact: Annotated[str, Meta(description="The 'contact me' checkbox.")] | UnsetType = UNSET
    thanks: Annotated[str, Meta(description="The thank-you page's heading.")] | UnsetType = UNSET
    subject: Annotated[str, Meta(description="The email's subject.")] | UnsetType = UNSET
    sms: (
        Annotated[str, Meta(description="The whole SMS invitation; at most 3 segments when filled.")]
        | UnsetType
    ) = UNSET


SurveyTextsIn = Annotated[dict[LocaleTag, LocaleTexts], Meta(description=PLACEHOLDER_NOTE)]
Days = Annotated[float, Meta(gt=0, le=3650)]


class SurveyCreate(Wire):
    key: Key
    kind: Annotated[Kind, Meta(description="Fixed once created, and with it the scale.")]
    texts: SurveyTextsIn = msgspec.field(default_factory=dict)
    cooldown_days: Days = 30.0
    answer_window_days: Days = 7.0
    token_ttl_days: Days = 14.0


class SurveyUpdate(Wire):
    """Given `texts` are the new version's in full (a new version when they differ); settings apply
    from now on and are not versioned."""

    texts: SurveyTextsIn | UnsetType = UNSET
    cooldown_days: Days | UnsetType = UNSET
    answer_window_days: Days | UnsetType = UNSET
    token_ttl_days: Days | UnsetType = UNSET


class SurveyVersion(Wire):
    survey: str
    version: int
    current: bool
    texts: dict[str, dict[str, str]]
    created_at: datetime
    created_by: str | None


class PagePreview(Wire):
    html: Annotated[str, Meta(description="The survey page as the customer sees it.")]
    thanks_html: Annotated[str, Meta(description="The page after an answer.")]


class EmailPreview(Wire):
    subject: str
    text: str
    html: str


class SmsPreview(Wire):
    text: str
    encoding: Literal["GSM-7", "UCS-2"]
    segments: int


class SurveyPreview(Wire):
    survey: str
    version: int
    locale: str
    touchpoint: str | None
    page: PagePreview | None = None
    email: EmailPreview | None = None
    sms: SmsPreview | None = None
