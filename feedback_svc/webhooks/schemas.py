"""Webhook endpoints and deliveries on the wire."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from msgspec import UNSET, Meta, UnsetType

from feedback_svc.lib.structs import Wire

EventType = Literal[
    "response.created",
    "response.updated",
    "task.created",
    "task.escalated",
    "task.resolved",
    "customer.opted_out",
    "customer.erased",
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]

Url = Annotated[
    str,
    Meta(
        min_length=8,
        max_length=2000,
        description="http(s) URL on a public address; private, loopback and link-local targets are "
        "refused unless FEEDBACK_WEBHOOKS_ALLOW_PRIVATE is set.",
    ),
]
Description = Annotated[str, Meta(max_length=500)]
EventTypes = Annotated[list[EventType], Meta(min_length=1, max_length=len(EVENT_TYPES))]
DeliveryStatus = Literal["pending", "succeeded", "failed", "disabled"]


class WebhookEndpointCreate(Wire):
    url: Url
    event_types: EventTypes
    description: Description | None = None
    enabled: bool = True


class WebhookEndpointUpdate(Wire):
    """Only the fields given change."""

    url: Url | UnsetType = UNSET
    description: Description | UnsetType | None = UNSET
    event_types: EventTypes | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET


class WebhookEndpoint(Wire):
    id: UUID
    url: str
    description: str | None
    event_types: list[str]
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime


class WebhookEndpointCreated(WebhookEndpoint, kw_only=True):
    secret: Annotated[
        str,
        Meta(
            description="The signing secret (`whsec_<base64>`), shown only in this response: store it now. "
            "Verify deliveries with any Standard Webhooks library."
        ),
    ]


class SecretRotated(Wire):
    endpoint_id: UUID
    secret: Annotated[str, Meta(description="The new signing secret, shown only in this response.")]
    previous_secret_valid_until: Annotated[
        datetime, Meta(description="Until then deliveries carry signatures by both the old and new secret.")
    ]


class WebhookDelivery(Wire):
    id: int
    endpoint_id: UUID
    message_id: Annotated[str, Meta(description="The `webhook-id` header; the same on every retry.")]
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any]


class WebhookDeliveryPage(Wire):
    items: list[WebhookDelivery]
    next_before: Annotated[
        int | None, Meta(description="Pass as `before` for the next (older) page; null on the last page.")
    ]
