"""OpenAPI pieces shared by controllers: the bearer scheme, problem responses, and the 429."""

from copy import deepcopy
from dataclasses import fields
from http import HTTPStatus
from typing import Any

from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.spec import Components, OpenAPI, SecurityScheme

from feedback_svc.lib.structs import Problem

BEARER_SCHEME = "bearerAuth"
BEARER = [{BEARER_SCHEME: []}]
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

RATE_LIMITED = {
    "description": "Too Many Requests (RFC 9457 problem details): the API key's per-minute limit is reached",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    "headers": {
        "Retry-After": {
            "description": "Seconds until the limit's window resets.",
            "required": True,
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(
            data_container=Problem,
            media_type="application/problem+json",
            description=HTTPStatus(status).phrase + " (RFC 9457 problem details)",
            generate_examples=False,
        )
        for status in statuses
    }


def declare_rate_limit(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the 429 to every operation that takes an API key: the limit is counted where the
    key is checked (lib/auth.py), for every route at once, so it is declared the same way.
    Litestar's ResponseSpec has no response headers, hence this instead of problem_responses."""
    for operations in schema.get("paths", {}).values():
        for method in METHODS:
            operation = operations.get(method)
            if operation and operation.get("security"):
                operation["responses"].setdefault("429", deepcopy(RATE_LIMITED))
    return schema


class _Document(OpenAPI):
    def to_schema(self) -> dict[str, Any]:
        return declare_rate_limit(super().to_schema())


class _Config(OpenAPIConfig):
    """Litestar builds the document from this; the one it gets back declares the 429 too.

    Both the served /schema/openapi.json and `feedback-svc openapi` go through to_schema.
    """

    def to_openapi_schema(self) -> OpenAPI:
        document = super().to_openapi_schema()
        return _Document(**{field.name: getattr(document, field.name) for field in fields(document)})


def openapi_config(version: str) -> OpenAPIConfig:
    return _Config(
        title="feedback-svc",
        version=version,
        description=(
            "Customer-feedback surveys (NPS, CSAT, CES), churn and loyalty scoring, and a recovery "
            "queue. Authenticate with `Authorization: Bearer <API key>`; create keys with "
            "`feedback-svc create-key`. Errors are RFC 9457 problem+json. Every request with an API "
            "key counts towards its per-minute rate limit (429 with Retry-After past it). Every "
            "mutating request takes an `Idempotency-Key` header, which makes a retry safe."
        ),
        components=Components(
            security_schemes={
                BEARER_SCHEME: SecurityScheme(
                    type="http", scheme="bearer", description="An API key from `feedback-svc create-key`."
                )
            }
        ),
        use_handler_docstrings=False,
        create_examples=False,
    )
