"""HTTP for erasure and export by our id or the CRM's (/v1/customers/{id} does them by ours)."""

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK

from feedback_svc.apikeys.service import Principal
from feedback_svc.customers.schemas import CustomerRef
from feedback_svc.customers.service import resolve_customer_id
from feedback_svc.lib.auth import requires_scope
from feedback_svc.lib.body import StrictBody
from feedback_svc.lib.idempotency import IdempotencyKey, respond_idempotently
from feedback_svc.lib.openapi import BEARER, problem_responses
from feedback_svc.lib.request_context import request_id_of
from feedback_svc.privacy import service
from feedback_svc.privacy.schemas import CustomerExport, Erasure

_encoder = msgspec.json.Encoder()


class PrivacyController(Controller):
    path = "/v1/privacy"
    tags = ["customers"]
    opt = requires_scope("crm")
    security = BEARER

    @post(
        "/erasures",
        summary="Erase a customer named by our id or the CRM's",
        description="What DELETE /v1/customers/{id} does, for `customer_external_id` (or "
        "`customer_id`). After it, the CRM's id names nobody (404) and our id answers 410 everywhere.",
        dto=StrictBody[CustomerRef],
        return_dto=None,
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 401, 403, 404, 409, 410, 413, 422),
    )
    async def erase(
        self,
        request: Request[Principal, Principal, State],
        pool: NamedDependency[asyncpg.Pool],
        data: JSONBody[CustomerRef],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Erasure]:
        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            erasure = await service.erase_customer(
                conn,
                await resolve_customer_id(conn, data),
                actor_id=str(request.user.key_id),
                request_id=request_id_of(request.scope),
                now=datetime.now(UTC),
            )
            return HTTP_200_OK, _encoder.encode(erasure)

        return await respond_idempotently(request, pool, idempotency_key, work)

    @get(
        "/export",
        summary="Export everything held about a customer named by our id or the CRM's",
        description="What GET /v1/customers/{id}/export answers, for `?customer_external_id=` (or "
        "`?customer_id=`): exactly one of them.",
        responses=problem_responses(401, 403, 404, 410, 422),
    )
    async def export(
        self,
        pool: NamedDependency[asyncpg.Pool],
        customer_id: FromQuery[UUID | None] = None,
        customer_external_id: Annotated[str | None, QueryParameter(min_length=1, max_length=200)] = None,
    ) -> CustomerExport:
        ref = CustomerRef(
            customer_id=msgspec.UNSET if customer_id is None else customer_id,
            customer_external_id=msgspec.UNSET if customer_external_id is None else customer_external_id,
        )
        found = await resolve_customer_id(pool, ref)
        return await service.export_customer(pool, found, now=datetime.now(UTC))
