"""The rules of webhook endpoints: where they may point, their secrets, and the fan-out of events."""

from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from feedback_svc.lib.errors import Conflict, InvalidInput, NotFound
from feedback_svc.outbox.events import Event
from feedback_svc.webhooks import queries
from feedback_svc.webhooks.schemas import (
    EVENT_TYPES,
    DeliveryStatus,
    SecretRotated,
    WebhookDelivery,
    WebhookDeliveryPage,
    WebhookEndpoint,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointUpdate,
)
from feedback_svc.webhooks.signing import new_secret
from feedback_svc.webhooks.targets import TargetRefused, check_url

# how long the old secret keeps signing after a rotation
ROTATION_OVERLAP = timedelta(hours=24)


def message_id(event_id: int) -> str:
    """The Standard Webhooks message id of an event: stable, so receivers can drop repeats."""
    return f"msg_{event_id}"


async def fan_out_event(conn: asyncpg.Connection, event: Event) -> None:
    """The outbox consumer: one pending delivery per enabled endpoint subscribed to the event.

    Idempotent: a redelivered event has the same id, hence the same message id, and the
    (endpoint, message id) pair is unique.
    """
    if event.type not in EVENT_TYPES:
        return
    await queries.fan_out_event(
        conn,
        event_id=event.id,
        message_id=message_id(event.id),
        event_type=event.type,
        data=await with_external_id(conn, event.data),
        ordering_key=ordering_key_of(event.data),
    )


async def with_external_id(conn: asyncpg.Connection, data: dict[str, Any]) -> dict[str, Any]:
    """The CRM's own id beside ours, in every event about a customer (null once erased)."""
    customer_id = data.get("customer_id")
    if customer_id is None:
        return data
    try:
        known = UUID(str(customer_id))
    except ValueError:
        return data
    return {**data, "customer_external_id": await queries.customer_external_id(conn, known)}


def ordering_key_of(data: dict[str, Any]) -> str | None:
    """Used when the event's outbox row has no ordering key of its own."""
    customer_id = data.get("customer_id")
    return str(customer_id) if customer_id else None


def _endpoint(row: asyncpg.Record) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=row["id"],
        url=row["url"],
        description=row["description"],
        event_types=list(row["event_types"]),
        enabled=row["disabled_at"] is None,
        disabled_at=row["disabled_at"],
        disabled_reason=row["disabled_reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _delivery(row: asyncpg.Record) -> WebhookDelivery:
    return WebhookDelivery(
        id=row["id"],
        endpoint_id=row["endpoint_id"],
        message_id=row["message_id"],
        event_type=row["event_type"],
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"] if row["status"] == "pending" else None,
        last_attempt_at=row["last_attempt_at"],
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        delivered_at=row["delivered_at"],
        payload=row["payload"],
    )


async def _checked_url(url: str, *, allow_private: bool) -> str:
    try:
        return await check_url(url, allow_private=allow_private)
    except TargetRefused as error:
        raise InvalidInput(
            f"Webhooks cannot be sent to {url!r}: {error}.",
            errors=[{"field": "url", "message": str(error), "source": "body"}],
        ) from None


def _unique(event_types: list[str]) -> list[str]:
    return list(dict.fromkeys(event_types))


async def create_endpoint(
    conn: queries.Conn, data: WebhookEndpointCreate, *, allow_private: bool
) -> WebhookEndpointCreated:
    url = await _checked_url(data.url, allow_private=allow_private)
    secret = new_secret()
    row = await queries.insert_endpoint(
        conn,
        url=url,
        description=data.description,
        secret=secret,
        event_types=_unique(list(data.event_types)),
        enabled=data.enabled,
    )
    endpoint = _endpoint(row)
    return WebhookEndpointCreated(**msgspec.structs.asdict(endpoint), secret=secret)


async def list_endpoints(conn: queries.Conn) -> list[WebhookEndpoint]:
    return [_endpoint(row) for row in await queries.list_endpoints(conn)]


async def get_endpoint(conn: queries.Conn, endpoint_id: UUID) -> WebhookEndpoint:
    row = await queries.get_endpoint(conn, endpoint_id)
    if row is None:
        raise NotFound(f"No webhook endpoint with id {endpoint_id}.")
    return _endpoint(row)


async def update_endpoint(
    conn: queries.Conn, endpoint_id: UUID, data: WebhookEndpointUpdate, *, allow_private: bool
) -> WebhookEndpoint:
    url = None if data.url is msgspec.UNSET else await _checked_url(data.url, allow_private=allow_private)
    row = await queries.update_endpoint(
        conn,
        endpoint_id,
        url=url,
        set_description=data.description is not msgspec.UNSET,
        description=None if data.description is msgspec.UNSET else data.description,
        enabled=None if data.enabled is msgspec.UNSET else data.enabled,
        event_types=None if data.event_types is msgspec.UNSET else _unique(list(data.event_types)),
    )
    if row is None:
        raise NotFound(f"No webhook endpoint with id {endpoint_id}.")
    return _endpoint(row)


async def delete_endpoint(conn: queries.Conn, endpoint_id: UUID) -> None:
    if not await queries.delete_endpoint(conn, endpoint_id):
        raise NotFound(f"No webhook endpoint with id {endpoint_id}.")


async def rotate_secret(conn: queries.Conn, endpoint_id: UUID) -> SecretRotated:
    secret = new_secret()
    row = await queries.rotate_secret(conn, endpoint_id, secret=secret, overlap=ROTATION_OVERLAP)
    if row is None:
        raise NotFound(f"No webhook endpoint with id {endpoint_id}.")
    return SecretRotated(
        endpoint_id=row["id"], secret=secret, previous_secret_valid_until=row["previous_secret_until"]
    )


async def list_deliveries(
    conn: queries.Conn,
    endpoint_id: UUID,
    *,
    status: DeliveryStatus | None,
    before: int | None,
    limit: int,
) -> WebhookDeliveryPage:
    await get_endpoint(conn, endpoint_id)
    rows = await queries.list_deliveries(conn, endpoint_id, status=status, before=before, limit=limit + 1)
    items = [_delivery(row) for row in rows[:limit]]
    return WebhookDeliveryPage(items=items, next_before=items[-1].id if len(rows) > limit else None)


async def replay_delivery(conn: asyncpg.Connection, endpoint_id: UUID, delivery_id: int) -> WebhookDelivery:
    """Send a delivery again (same message id) from the start of the retry schedule."""
    async with conn.transaction():
        endpoint = await get_endpoint(conn, endpoint_id)
        if await queries.get_delivery(conn, endpoint_id, delivery_id) is None:
            raise NotFound(f"Endpoint {endpoint_id} has no delivery {delivery_id}.")
        if not endpoint.enabled:
            raise Conflict(
                f"The endpoint is disabled ({endpoint.disabled_reason}); enable it with "
                f"PATCH /v1/webhook-endpoints/{endpoint_id} before replaying."
            )
        row = await queries.replay_delivery(conn, endpoint_id, delivery_id)
        assert row is not None  # checked above, inside the same transaction
        return _delivery(row)
