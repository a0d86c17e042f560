"""OpenAPI pieces shared by controllers: the bearer scheme, problem responses, the 429, and the
API reference at /schema, rendered by Swagger UI from files this service serves itself."""

import importlib.util
from copy import deepcopy
from dataclasses import fields
from http import HTTPStatus
from pathlib import Path
from typing import Any

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, OpenAPI, SecurityScheme
from litestar.static_files import create_static_files_router

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


# Swagger UI's own files, from the swagger-ui-py wheel: /schema works without internet access
API_DOCS_ASSETS = "/schema-assets"


def swagger_ui_dir() -> Path:
    # found without importing the package, whose __init__ wires up web frameworks we do not use
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed: pip install swagger-ui-py")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def api_docs_assets(public_opt: dict[str, Any]) -> Router:
    """Swagger UI's script, stylesheet and icon under /schema-assets/, cached by browsers for a day."""
    return create_static_files_router(
        API_DOCS_ASSETS,
        [swagger_ui_dir()],
        opt=public_opt,
        include_in_schema=False,
        send_as_attachment=False,
        cache_control=CacheControlHeader(max_age=86400, public=True),
        name="api-docs-assets",
    )


def _render_plugins() -> list[Any]:
    swagger = SwaggerRenderPlugin(
        js_url=f"{API_DOCS_ASSETS}/swagger-ui-bundle.js",
        css_url=f"{API_DOCS_ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{API_DOCS_ASSETS}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{API_DOCS_ASSETS}/favicon-32x32.png'>",
        path=["/", "/swagger"],
    )
    return [swagger, JsonRenderPlugin()]


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
        render_plugins=_render_plugins(),
    )
