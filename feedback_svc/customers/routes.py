"""HTTP for customers; the rules live in service.py."""

from uuid import UUID

import asyncpg
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from feedback_svc.customers import service
from feedback_svc.customers.schemas import Customer, CustomerUpsert
from feedback_svc.lib.auth import requires_scope
from feedback_svc.lib.body import StrictBody
from feedback_svc.lib.openapi import BEARER, problem_responses


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
        responses=problem_responses(400, 401, 403, 413, 422),
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
