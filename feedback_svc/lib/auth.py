"""Bearer API keys on every route unless the route opts out, and the scope each route needs.

Public routes (health, the survey pages, provider webhooks with their own
signatures) set `opt={"public": True}`; everything else needs a key.
"""

from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.response.base import ASGIResponse
from litestar.types import Receive, Scope, Send

from feedback_svc.apikeys.service import ApiKeyVerifier, Principal
from feedback_svc.lib.errors import Forbidden, Unauthorized
from feedback_svc.lib.ratelimit import check_api_key

PUBLIC = "public"
SCOPE = "scope"


class ApiKeyAuthentication(AbstractAuthenticationMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            # answered here, without a key, as Litestar would: Litestar's own answer listed
            # the methods of the handlers registered first for the path, not all of them
            await ASGIResponse(status_code=204, headers={"Allow": _allowed(scope)})(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

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
        authorize(principal, connection.route_handler.opt.get(SCOPE))
        return AuthenticationResult(user=principal, auth=principal)


def _allowed(scope: Scope) -> str:
    paths = scope["route_handler"].paths
    methods = {method for route in scope["app"].routes if route.path in paths for method in route.methods}
    return ", ".join(sorted(methods | {"OPTIONS"}))


def requires_scope(scope: str) -> dict[str, str]:
    """The `opt` of a controller or handler whose keys need `scope` (admin keys have every scope).

    Checked by ApiKeyAuthentication right after the key, not by a Litestar guard: Litestar
    copies the route handler for every guard call, 0.2 ms a request, more than the
    rest of authentication. A route that is neither public nor declares a scope is refused.
    """
    return {SCOPE: scope}


def authorize(principal: Principal, required: str | None) -> None:
    if required is None:
        # fail closed: an API route someone forgot to give a scope is nobody's
        raise Forbidden("This endpoint declares no scope, so no API key may call it.")
    if not principal.allows(required):
        raise Forbidden(
            f"The API key {principal.name!r} lacks the {required!r} scope this endpoint needs "
            f"(it has: {', '.join(sorted(principal.scopes))})."
        )
