"""HTTP for customers; the rules live in service.py."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from feedback_svc.apikeys.service import Principal
from feedback_svc.customers import service
from feedback_svc.customers.schemas import Customer, CustomerEvent, CustomerEventCreate, CustomerUpsert
from feedback_svc.lib.auth import requires_scope
from feedback_svc.lib.body import StrictBody
from feedback_svc.lib.idempotency import check_key, run_idempotent
from feedback_svc.lib.openapi import BEARER, problem_responses
from feedback_svc.lib.request_context import request_id_of
from feedback_svc.privacy import service as privacy
from feedback_svc.privacy.schemas import CustomerExport, Erasure
from feedback_svc.surveys.routes import IdempotencyKey

_encoder = msgspec.json.Encoder()


class CustomersController(Controller):
    path = "/v1/customers"
    tags = ["customers"]
    guards = [requires_scope("crm")]
    security = BEARER

    @post(
        "/",
        summary="Create or update a customer by external id",
        description="Returns 201 when the customer was created, 200 when an existing one was updated.",
        status_code=HTTP_200_OK,
        dto=StrictBody[CustomerUpsert],
        return_dto=None,
        responses={
            HTTP_201_CREATED: ResponseSpec(data_container=Customer, description="Customer created"),
            **problem_responses(400, 401, 403, 413, 422),
        },
    )
    async def upsert_customer(
        self, pool: NamedDependency[asyncpg.Pool], data: JSONBody[CustomerUpsert]
    ) -> Response[Customer]:
        customer, created = await service.upsert_customer(pool, data)
        return Response(customer, status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @get(
        "/{customer_id:uuid}",
        summary="Read a customer",
        responses=problem_responses(401, 403, 404),
    )
    async def get_customer(
        self, pool: NamedDependency[asyncpg.Pool], customer_id: FromPath[UUID]
    ) -> Customer:
        return await service.get_customer(pool, customer_id)

    @post(
        "/{customer_id:uuid}/events",
        summary="Report an outcome: renewed, churned, reactivated, purchase, upgraded, downgraded",
        description="Churn events label the training data; the others are model features. 201 when "
        "stored, 200 when an event with the same external_id was stored before.",
        dto=StrictBody[CustomerEventCreate],
        return_dto=None,
        status_code=HTTP_201_CREATED,
        responses={
            HTTP_200_OK: ResponseSpec(data_container=CustomerEvent, description="Already recorded"),
            **problem_responses(400, 401, 403, 404, 409, 413, 422),
        },
    )
    async def record_event(
        self,
        request: Request[Principal, Principal, State],
        pool: NamedDependency[asyncpg.Pool],
        customer_id: FromPath[UUID],
        data: JSONBody[CustomerEventCreate],
        idempotency_key: IdempotencyKey = None,
    ) -> CustomerEvent:
        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            event, created = await service.record_customer_event(
                conn, customer_id, data, now=datetime.now(UTC)
            )
            return (HTTP_201_CREATED if created else HTTP_200_OK), _encoder.encode(event)

        status, body, replayed = await run_idempotent(
            pool,
            principal=request.user,
            key=check_key(idempotency_key) if idempotency_key is not None else None,
            method=request.method,
            path=request.url.path,
            body=await request.body(),
            work=work,
        )
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        return Response(  # type: ignore[return-value]
            content=body, status_code=status, media_type="application/json", headers=headers
        )

    @delete(
        "/{customer_id:uuid}",
        summary="Erase a customer",
        description=(
            "Removes contact details, the CRM's id, attributes, comments, notes, SMS messages, survey "
            "tokens, queued messages and webhook payloads; keeps anonymous scores and outcomes for "
            "statistics and opt-outs as hashes. Sends `customer.erased` to webhook endpoints. Calling "
            "it again changes nothing and answers the same (`erased_now: false`)."
        ),
        status_code=HTTP_200_OK,
        responses=problem_responses(401, 403, 404),
    )
    async def erase_customer(
        self,
        request: Request[Principal, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        customer_id: FromPath[UUID],
    ) -> Erasure:
        return await privacy.erase_customer(
            pool,
            customer_id,
            actor_id=str(request.user.key_id),
            request_id=request_id_of(request.scope),
            now=datetime.now(UTC),
        )

    @get(
        "/{customer_id:uuid}/export",
        summary="Export everything held about a customer",
        responses=problem_responses(401, 403, 404),
    )
    async def export_customer(
        self, pool: NamedDependency[asyncpg.Pool], customer_id: FromPath[UUID]
    ) -> CustomerExport:
        return await privacy.export_customer(pool, customer_id, now=datetime.now(UTC))
