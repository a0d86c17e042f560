"""HTTP for customers; the rules live in service.py."""

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from feedback_svc.apikeys.service import Principal
from feedback_svc.audit.actions import is_audited
from feedback_svc.customers import service
from feedback_svc.customers.grouped import upsert_grouped
from feedback_svc.customers.schemas import (
    Customer,
    CustomerEvent,
    CustomerEventCreate,
    CustomerPage,
    CustomerUpsert,
    EventCreate,
)
from feedback_svc.lib.auth import requires_scope
from feedback_svc.lib.body import StrictBody
from feedback_svc.lib.idempotency import IdempotencyKey, reply, respond_idempotently
from feedback_svc.lib.openapi import BEARER, problem_responses
from feedback_svc.lib.request_context import request_id_of
from feedback_svc.privacy import service as privacy
from feedback_svc.privacy.schemas import CustomerExport, Erasure

_encoder = msgspec.json.Encoder()


class CustomersController(Controller):
    path = "/v1/customers"
    tags = ["customers"]
    opt = requires_scope("crm")
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
            **problem_responses(400, 401, 403, 409, 413, 422),
        },
    )
    async def upsert_customer(
        self,
        request: Request[Principal, Principal, State],
        data: JSONBody[CustomerUpsert],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Customer]:
        # the pool from the app's state, not injected: Litestar's dependency injection costs
        # about 60,000 instructions a request, 13 % of this one in process (callgrind)
        pool: asyncpg.Pool = request.app.state.pool
        if idempotency_key is None and not is_audited(request.user):
            stored = await upsert_grouped(request.app.state.customer_upserts, data)
            if stored is not None:
                customer, created = stored
                return reply(
                    HTTP_201_CREATED if created else HTTP_200_OK, _encoder.encode(customer), replayed=False
                )

        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            customer, created = await service.upsert_customer(conn, data)
            return (HTTP_201_CREATED if created else HTTP_200_OK), _encoder.encode(customer)

        # the upsert is one statement (a refusal reads a count after it, writing nothing)
        return await respond_idempotently(request, pool, idempotency_key, work, one_statement=True)

    @get(
        "/",
        summary="List customers, or find one by the CRM's id",
        description="`?external_id=crm-42` answers with that customer alone (or none). Erased "
        "customers are not listed. Pages follow our ids; pass `next_after` as `after`.",
        responses=problem_responses(401, 403, 422),
    )
    async def list_customers(
        self,
        pool: NamedDependency[asyncpg.Pool],
        external_id: Annotated[str | None, QueryParameter(min_length=1, max_length=200)] = None,
        after: FromQuery[UUID | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> CustomerPage:
        return await service.list_customers(pool, external_id=external_id, after=after, limit=limit)

    @get(
        "/{customer_id:uuid}",
        summary="Read a customer",
        description="An erased customer answers 410.",
        responses=problem_responses(401, 403, 404, 410),
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
            **problem_responses(400, 401, 403, 404, 409, 410, 413, 422),
        },
    )
    async def record_event(
        self,
        request: Request[Principal, Principal, State],
        pool: NamedDependency[asyncpg.Pool],
        customer_id: FromPath[UUID],
        data: JSONBody[CustomerEventCreate],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[CustomerEvent]:
        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            event, created = await service.record_customer_event(
                conn,
                customer_id,
                data,
                now=datetime.now(UTC),
                deployment_currency=request.app.state.settings.currency,
            )
            return (HTTP_201_CREATED if created else HTTP_200_OK), _encoder.encode(event)

        return await respond_idempotently(request, pool, idempotency_key, work)

    @delete(
        "/{customer_id:uuid}",
        summary="Erase a customer",
        description=(
            "Removes contact details, the CRM's id, attributes, comments, notes, SMS messages, survey "
            "tokens, queued messages and webhook payloads; keeps anonymous scores and outcomes for "
            "statistics and opt-outs as hashes. Earlier emails, phone numbers and names the customer "
            "had go too, with the SMS messages from those numbers. Sends `customer.erased` to webhook "
            "endpoints. Afterwards the customer accepts nothing new: this and every other endpoint "
            "answers 410 for it (a retry with the same Idempotency-Key replays this answer). Stored "
            "replies of earlier requests that mention the customer are erased too; this one's own "
            "reply holds only ids and times, so it is kept for replay."
        ),
        status_code=HTTP_200_OK,
        responses=problem_responses(401, 403, 404, 409, 410, 422),
    )
    async def erase_customer(
        self,
        request: Request[Principal, Principal, State],
        pool: NamedDependency[asyncpg.Pool],
        customer_id: FromPath[UUID],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Erasure]:
        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            erasure = await privacy.erase_customer(
                conn,
                customer_id,
                actor_id=str(request.user.key_id),
                request_id=request_id_of(request.scope),
                now=datetime.now(UTC),
            )
            return HTTP_200_OK, _encoder.encode(erasure)

        return await respond_idempotently(request, pool, idempotency_key, work)

    @get(
        "/{customer_id:uuid}/export",
        summary="Export everything held about a customer",
        description="Earlier contact details and the SMS messages from earlier numbers are included. "
        "An erased customer answers 410: nothing is held to export.",
        responses=problem_responses(401, 403, 404, 410),
    )
    async def export_customer(
        self, pool: NamedDependency[asyncpg.Pool], customer_id: FromPath[UUID]
    ) -> CustomerExport:
        return await privacy.export_customer(pool, customer_id, now=datetime.now(UTC))


class EventsController(Controller):
    path = "/v1/events"
    tags = ["customers"]
    opt = requires_scope("crm")
    security = BEARER

    @post(
        "/",
        summary="Report an outcome for a customer named by our id or the CRM's",
        description="As POST /v1/customers/{id}/events, with `customer_external_id` (or `customer_id`) "
        "in the body. 201 when stored, 200 when an event with the same external_id was stored before.",
        dto=StrictBody[EventCreate],
        return_dto=None,
        status_code=HTTP_201_CREATED,
        responses={
            HTTP_200_OK: ResponseSpec(data_container=CustomerEvent, description="Already recorded"),
            **problem_responses(400, 401, 403, 404, 409, 410, 413, 422),
        },
    )
    async def record_event(
        self,
        request: Request[Principal, Principal, State],
        pool: NamedDependency[asyncpg.Pool],
        data: JSONBody[EventCreate],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[CustomerEvent]:
        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            customer_id = await service.resolve_customer_id(conn, data)
            event, created = await service.record_customer_event(
                conn,
                customer_id,
                data,
                now=datetime.now(UTC),
                deployment_currency=request.app.state.settings.currency,
            )
            return (HTTP_201_CREATED if created else HTTP_200_OK), _encoder.encode(event)

        return await respond_idempotently(request, pool, idempotency_key, work)
