"""HTTP for webhook endpoints (admin only); the rules live in service.py."""

from typing import Annotated
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, PathParameter, QueryParameter

from feedback_svc.apikeys.service import Principal
from feedback_svc.lib.auth import requires_scope
from feedback_svc.lib.body import StrictBody
from feedback_svc.lib.bounds import BIGINT_MAX
from feedback_svc.lib.idempotency import IdempotencyKey, respond_idempotently
from feedback_svc.lib.openapi import BEARER, problem_responses
from feedback_svc.webhooks import service
from feedback_svc.webhooks.schemas import (
    DeliveryStatus,
    SecretRotated,
    WebhookDelivery,
    WebhookDeliveryPage,
    WebhookEndpoint,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointUpdate,
)

READ_ERRORS = problem_responses(401, 403, 404)
# 409 and 422 for the Idempotency-Key too (still running; reused for another request)
WRITE_ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 422)
CHANGE_ERRORS = problem_responses(401, 403, 404, 409, 422)

AdminRequest = Request[Principal, Principal, State]

_encoder = msgspec.json.Encoder()


def _allow_private(request: AdminRequest) -> bool:
    return bool(request.app.state.settings.webhooks_allow_private)


class WebhookEndpointsController(Controller):
    path = "/v1/webhook-endpoints"
    tags = ["webhooks"]
    opt = requires_scope("admin")
    security = BEARER

    @post(
        "/",
        summary="Register a webhook endpoint",
        description="The signing secret is in this response only, and in its replays: a retry with the "
        "same Idempotency-Key within 24 h (by the same API key) answers this response again, secret "
        "included, so a client that timed out still learns it. The URL must be http(s) on a public "
        "address (checked again at every delivery).",
        dto=StrictBody[WebhookEndpointCreate],
        return_dto=None,
        status_code=201,
        responses=problem_responses(400, 401, 403, 409, 413, 422),
    )
    async def create_endpoint(
        self,
        request: AdminRequest,
        pool: NamedDependency[asyncpg.Pool],
        data: JSONBody[WebhookEndpointCreate],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[WebhookEndpointCreated]:
        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            created = await service.create_endpoint(conn, data, allow_private=_allow_private(request))
            return 201, _encoder.encode(created)

        return await respond_idempotently(request, pool, idempotency_key, work)

    @get("/", summary="List webhook endpoints", responses=problem_responses(401, 403))
    async def list_endpoints(self, pool: NamedDependency[asyncpg.Pool]) -> list[WebhookEndpoint]:
        return await service.list_endpoints(pool)

    @get("/{endpoint_id:uuid}", summary="Get a webhook endpoint", responses=READ_ERRORS)
    async def get_endpoint(
        self, pool: NamedDependency[asyncpg.Pool], endpoint_id: FromPath[UUID]
    ) -> WebhookEndpoint:
        return await service.get_endpoint(pool, endpoint_id)

    @patch(
        "/{endpoint_id:uuid}",
        summary="Change an endpoint's URL, description or event types; enable or disable it",
        description="Disabling pauses its pending deliveries; enabling again sends them.",
        dto=StrictBody[WebhookEndpointUpdate],
        return_dto=None,
        responses=WRITE_ERRORS,
    )
    async def update_endpoint(
        self,
        request: AdminRequest,
        pool: NamedDependency[asyncpg.Pool],
        endpoint_id: FromPath[UUID],
        data: JSONBody[WebhookEndpointUpdate],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[WebhookEndpoint]:
        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            updated = await service.update_endpoint(
                conn, endpoint_id, data, allow_private=_allow_private(request)
            )
            return 200, _encoder.encode(updated)

        return await respond_idempotently(request, pool, idempotency_key, work)

    @delete(
        "/{endpoint_id:uuid}", summary="Delete an endpoint and its delivery history", responses=CHANGE_ERRORS
    )
    async def delete_endpoint(
        self,
        request: AdminRequest,
        pool: NamedDependency[asyncpg.Pool],
        endpoint_id: FromPath[UUID],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[None]:
        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            await service.delete_endpoint(conn, endpoint_id)
            return 204, b""

        return await respond_idempotently(request, pool, idempotency_key, work)

    @post(
        "/{endpoint_id:uuid}/rotate-secret",
        summary="Replace the signing secret",
        description="The new secret is in this response only, and in its replays for the same "
        "Idempotency-Key (see creating an endpoint). For 24 hours deliveries are signed with both "
        "secrets, so the receiver can switch without losing a message.",
        status_code=200,
        responses=CHANGE_ERRORS,
    )
    async def rotate_secret(
        self,
        request: AdminRequest,
        pool: NamedDependency[asyncpg.Pool],
        endpoint_id: FromPath[UUID],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[SecretRotated]:
        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            return 200, _encoder.encode(await service.rotate_secret(conn, endpoint_id))

        return await respond_idempotently(request, pool, idempotency_key, work)

    @get(
        "/{endpoint_id:uuid}/deliveries",
        summary="An endpoint's deliveries, newest first",
        description="Filter by status (e.g. `failed`) to see what did not arrive and why.",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def list_deliveries(
        self,
        pool: NamedDependency[asyncpg.Pool],
        endpoint_id: FromPath[UUID],
        status: FromQuery[DeliveryStatus | None] = None,
        before: Annotated[
            int | None, QueryParameter(ge=1, le=BIGINT_MAX, description="Only deliveries older than this id.")
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> WebhookDeliveryPage:
        return await service.list_deliveries(pool, endpoint_id, status=status, before=before, limit=limit)

    @post(
        "/{endpoint_id:uuid}/deliveries/{delivery_id:int}/replay",
        summary="Send a delivery again",
        description="Same message id, from the start of the retry schedule. 409 while the endpoint is "
        "disabled.",
        status_code=202,
        responses=problem_responses(401, 403, 404, 409, 422),
    )
    async def replay_delivery(
        self,
        request: AdminRequest,
        pool: NamedDependency[asyncpg.Pool],
        endpoint_id: FromPath[UUID],
        delivery_id: Annotated[int, PathParameter(ge=1, le=BIGINT_MAX)],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[WebhookDelivery]:
        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            return 202, _encoder.encode(await service.replay_delivery(conn, endpoint_id, delivery_id))

        return await respond_idempotently(request, pool, idempotency_key, work)
