"""Bearer API keys on every route unless the route opts out, and scope guards.

Public routes (health, the survey pages, provider webhooks with their own
signatures) set `opt={"public": True}`; everything else needs a key.
"""

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import Guard

from feedback_svc.apikeys.service import ApiKeyVerifier, Principal
from feedback_svc.lib.errors import Forbidden, Unauthorized
from feedback_svc.lib.ratelimit import check_api_key

PUBLIC = "public"


class ApiKeyAuthentication(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get("authorization")
        if not header:
            raise Unauthorized("Send an API key as `Authorization: Bearer <key>`.")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Unauthorized("Use the Bearer scheme: `Authorization: Bearer <key>`.")
        verifier: ApiKeyVerifier = connection.app.state.api_keys
        principal = await verifier.verify(key.strip())
        check_api_key(connection, str(principal.key_id))
        return AuthenticationResult(user=principal, auth=principal)


def requires_scope(scope: str) -> Guard:
    """A guard letting through keys with `scope` (admin keys pass every guard)."""

    # async although it awaits nothing: Litestar runs a plain `def` guard on a worker thread
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = connection.scope.get("auth")
        if not isinstance(principal, Principal):
            raise Unauthorized("Send an API key as `Authorization: Bearer <key>`.")
        if not principal.allows(scope):
            raise Forbidden(
                f"The API key {principal.name!r} lacks the {scope!r} scope this endpoint needs "
                f"(it has: {', '.join(sorted(principal.scopes))})."
            )

    guard.__name__ = f"requires_{scope}"
    return guard
