"""Bearer API keys on every route unless the route opts out, and the scope each route needs.

Public routes (health, the survey pages, provider webhooks with their own
signatures) set `opt={"public": True}`; everything else needs a key.
"""

from litestar import Litestar
from litestar._asgi.routing_trie.types import ASGIHandlerTuple, RouteTrieNode
from litestar.middleware._internal.exceptions.middleware import ExceptionHandlerMiddleware
from litestar.response.base import ASGIResponse
from litestar.types import ASGIApp, Receive, Scope, Send

from feedback_svc.apikeys.service import ApiKeyVerifier, Principal
from feedback_svc.lib.errors import Forbidden, Unauthorized
from feedback_svc.lib.ratelimit import check_api_key

PUBLIC = "public"
SCOPE = "scope"
AUTHORIZATION = b"authorization"


class ApiKeyAuthentication:
    """The route middleware: a valid key with the route's scope, or a 401, 403 or 429 problem.

    Plain ASGI, reading the one header it needs from the scope. Litestar's
    AbstractAuthenticationMiddleware built an ASGIConnection, its Headers and an
    AuthenticationResult for every request, and added a call and an await of its own: about
    12,000 instructions, 2 % of a keyed POST /v1/responses in process (callgrind). What it
    raises reaches Litestar's exception layer around the router, which renders it as before.
    """

    def __init__(self, app: ASGIApp, *, open_prefix: str | None = None) -> None:
        self.app = app
        # paths below this need no key (the API reference and its document)
        self.open_prefix = open_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            # answered here, without a key, as Litestar would: Litestar's own answer listed
            # the methods of the handlers registered first for the path, not all of them
            await ASGIResponse(status_code=204, headers={"Allow": _allowed(scope)})(scope, receive, send)
            return
        if not self._is_open(scope):
            scope["user"] = scope["auth"] = await _authenticate(scope)
        await self.app(scope, receive, send)

    def _is_open(self, scope: Scope) -> bool:
        if scope["route_handler"].opt.get(PUBLIC):
            return True
        return self.open_prefix is not None and scope["path"].startswith(self.open_prefix)


async def _authenticate(scope: Scope) -> Principal:
    header = _authorization(scope)
    if not header:
        raise Unauthorized("Send an API key as `Authorization: Bearer <key>`.")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("Use the Bearer scheme: `Authorization: Bearer <key>`.")
    state = scope["litestar_app"].state
    verifier: ApiKeyVerifier = state.api_keys
    principal = await verifier.verify(key.strip())
    check_api_key(state, str(principal.key_id))
    authorize(principal, scope["route_handler"].opt.get(SCOPE))
    return principal


def _authorization(scope: Scope) -> str | None:
    """The first Authorization header, as Litestar's Headers gave it (servers send names in lower case)."""
    for name, value in scope["headers"]:
        if name == AUTHORIZATION:
            return value.decode("latin-1")
    return None


def trim_route_stacks(app: Litestar) -> tuple[int, int]:
    """Take the layers a request does not need off each route's stack, once Litestar built them.

    Under any route middleware Litestar puts an exception-handling layer, so that an error's
    response goes out through the send wrappers of that middleware; ApiKeyAuthentication wraps
    no send, so the layer around the router renders the same problem. Every layer costs a call
    and an await on every request, and this one a send wrapper too:
    - a public route (the liveness probe, pages, provider webhooks) becomes the route itself:
      the API-key layer only waves it through; together a fifth of the liveness probe's CPU;
    - any other route keeps ApiKeyAuthentication with the route right under it: about 15,000
      instructions, 2.5 % of a keyed POST /v1/responses in process (callgrind).
    OPTIONS keeps ApiKeyAuthentication (which answers it, for every path alike); a stack of any
    other shape is left as it is. Returns how many stacks were (unwrapped, trimmed).
    """
    unwrapped = trimmed = 0
    nodes: list[RouteTrieNode] = [app.asgi_router.root_route_map_node]
    while nodes:
        node = nodes.pop()
        nodes.extend(node.children.values())
        for method, (stack, handler) in list(node.asgi_handlers.items()):
            if not isinstance(stack, ApiKeyAuthentication):
                continue
            if not isinstance(stack.app, ExceptionHandlerMiddleware):
                continue
            if handler.opt.get(PUBLIC) and method != "OPTIONS":
                node.asgi_handlers[method] = ASGIHandlerTuple(asgi_app=stack.app.app, handler=handler)
                unwrapped += 1
            else:
                stack.app = stack.app.app
                trimmed += 1
    app.asgi_router.handle_routing.cache_clear()  # type: ignore[attr-defined]
    return unwrapped, trimmed


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
