"""Customers on the wire. The CRM owns `external_id`; we own `id` and the timestamps."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import UNSET, Meta, UnsetType

from feedback_svc.lib.structs import Wire

ExternalId = Annotated[str, Meta(min_length=1, max_length=200, description="The CRM's id for the customer.")]
# a customer keeps at most this many attributes, whatever the number of requests that sent them
MAX_ATTRIBUTES = 100
MAX_ATTRIBUTE_TEXT = 1000
# numbers are floats: one JSON-schema type, no oneOf overlap between integer and number
AttributeValue = Annotated[str, Meta(max_length=MAX_ATTRIBUTE_TEXT)] | float | bool | None
Attributes = Annotated[
    dict[Annotated[str, Meta(min_length=1, max_length=64)], AttributeValue],
    Meta(
        max_length=MAX_ATTRIBUTES,
        description="The CRM's own fields (plan, tenure, open tickets...). Numeric ones become model "
        f"features. On update they are merged into the stored ones; a null value removes a key. A "
        f"customer keeps at most {MAX_ATTRIBUTES} attributes, texts up to {MAX_ATTRIBUTE_TEXT} characters.",
    ),
]


class CustomerRef(Wire):
    """Either our id or the CRM's: exactly one."""

    customer_id: UUID | UnsetType = UNSET
    customer_external_id: ExternalId | UnsetType = UNSET


class CustomerUpsert(Wire):
    """Create or update by `external_id`. Omitted fields keep their stored value."""

    external_id: ExternalId
    email: Annotated[str, Meta(max_length=320)] | UnsetType | None = UNSET
    phone: (
        Annotated[str, Meta(max_length=32, description="International format, e.g. +4915112345678.")]
        | UnsetType
        | None
    ) = UNSET
    name: Annotated[str, Meta(max_length=200)] | UnsetType | None = UNSET
    time_zone: (
        Annotated[str, Meta(max_length=64, description="IANA name, e.g. Europe/Berlin.")] | UnsetType
    ) = UNSET
    locale: (
        Annotated[str, Meta(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$", description="e.g. en, de, pt-BR.")]
        | UnsetType
    ) = UNSET
    value: (
        Annotated[float, Meta(ge=0, le=1e12, description="Customer value, e.g. lifetime value.")] | UnsetType
    ) = UNSET
    segment: Annotated[str, Meta(max_length=100)] | UnsetType | None = UNSET
    customer_since: (
        Annotated[
            datetime,
            Meta(tz=True, description="When the person became a customer, as the CRM knows it (tenure)."),
        ]
        | UnsetType
        | None
    ) = UNSET
    attributes: Attributes | UnsetType = UNSET


class Customer(Wire):
    id: UUID
    external_id: str
    email: str | None
    phone: str | None
    name: str | None
    time_zone: str
    locale: str
    value: float
    segment: str | None
    customer_since: datetime | None
    attributes: dict[str, AttributeValue]
    created_at: datetime
    updated_at: datetime


class CustomerPage(Wire):
    items: list[Customer]
    next_after: Annotated[
        UUID | None, Meta(description="Pass as `after` for the next page; null on the last.")
    ]


EventKind = Literal["renewed", "churned", "reactivated", "purchase", "refunded", "upgraded", "downgraded"]
Currency = Annotated[str, Meta(pattern=r"^[A-Z]{3}$", description="ISO 4217 code of `value`, e.g. EUR.")]


class CustomerEventCreate(Wire):
    """An outcome the CRM saw; churn events label the training data, the rest are features."""

    kind: EventKind
    occurred_at: Annotated[datetime, Meta(tz=True, description="When it happened, with a UTC offset.")]
    value: (
        Annotated[
            float,
            Meta(ge=-1e12, le=1e12, description="e.g. the purchase, refund or renewal amount."),
        ]
        | None
    ) = None
    currency: Currency | None = None
    external_id: (
        Annotated[
            str,
            Meta(min_length=1, max_length=200, description="The CRM's id; a resend returns the first event."),
        ]
        | None
    ) = None


class EventCreate(CustomerEventCreate, kw_only=True):
    """An event for a customer named by our id or the CRM's: exactly one (POST /v1/events, imports)."""

    customer_id: UUID | UnsetType = UNSET
    customer_external_id: ExternalId | UnsetType = UNSET


class CustomerEvent(Wire):
    id: int
    customer_id: UUID
    kind: EventKind
    occurred_at: datetime
    value: float | None
    currency: str | None
    external_id: str | None
    created_at: datetime
