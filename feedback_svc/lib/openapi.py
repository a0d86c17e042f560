"""OpenAPI pieces shared by controllers: the bearer scheme and problem responses."""

from http import HTTPStatus

from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.spec import Components, SecurityScheme

from feedback_svc.lib.structs import Problem

BEARER_SCHEME = "bearerAuth"
BEARER = [{BEARER_SCHEME: []}]


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


def openapi_config(version: str) -> OpenAPIConfig:
    return OpenAPIConfig(
        title="feedback-svc",
        version=version,
        description=(
            "Customer-feedback surveys (NPS, CSAT, CES), churn and loyalty scoring, and a recovery "
            "queue. Authenticate with `Authorization: Bearer <API key>`; create keys with "
            "`feedback-svc create-key`. Errors are RFC 9457 problem+json."
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
