"""Every API route, read from the app, refuses a key without its scope (403) and a request
without a key (401), before it does any work."""

import re
from uuid import uuid4

import asyncpg
import pytest
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.testing import AsyncTestClient

from feedback_svc.apikeys.service import Principal
from feedback_svc.lib.auth import PUBLIC, SCOPE, authorize
from feedback_svc.lib.errors import Forbidden
from tests.conftest import KeyFactory

Client = AsyncTestClient[Litestar]
SCOPES = ("crm", "agent", "admin", "metrics")
PARAMETER = re.compile(r"\{(\w+):(\w+)\}")


def concrete(path: str) -> str:
    """A path a request can be sent to: each parameter filled with a value of its type."""
    values = {"uuid": str(uuid4()), "int": "1", "str": "x"}
    return PARAMETER.sub(lambda match: values[match.group(2)], path)


def scoped_operations(app: Litestar) -> list[tuple[str, str, str]]:
    found = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if not isinstance(handler, HTTPRouteHandler) or handler.opt.get(PUBLIC):
                continue
            scope = handler.opt.get(SCOPE)
            if scope is None:
                continue  # the OpenAPI document; tests/unit/test_route_scopes.py holds the rest to a scope
            found += [
                (method, route.path, scope) for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"})
            ]
    return sorted(found)


async def test_every_scoped_route_refuses_keys_without_its_scope_and_requests_without_a_key(
    app: Litestar, client: Client, conn: asyncpg.Connection, make_key: KeyFactory
) -> None:
    operations = scoped_operations(app)
    assert len(operations) >= 60
    # a key with every scope but the one needed; admin has every scope, so it is never the other
    others = {
        scope: await make_key(*(s for s in SCOPES if s not in (scope, "admin")), name=f"not-{scope}")
        for scope in SCOPES
    }
    let_through = []
    for method, path, scope in operations:
        target = concrete(path)
        anonymous = await client.request(method, target)
        if anonymous.status_code != 401:
            let_through.append(f"{method} {path} without a key: {anonymous.status_code}")
        refused = await client.request(method, target, headers=others[scope])
        if refused.status_code != 403 or f"lacks the {scope!r} scope" not in refused.text:
            let_through.append(f"{method} {path} without {scope}: {refused.status_code}")
    assert let_through == []
    # nothing was done on the way: no customer, task, endpoint or key was written
    for table in ("customers", "recovery_tasks", "webhook_endpoints", "imports", "training_runs"):
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table


@pytest.mark.parametrize("scopes", [(), ("crm",), ("crm", "agent", "metrics")])
def test_a_route_that_declares_no_scope_is_nobodys(scopes: tuple[str, ...]) -> None:
    principal = Principal(key_id=uuid4(), name="k", scopes=frozenset(scopes), agent=None)
    with pytest.raises(Forbidden, match="declares no scope"):
        authorize(principal, None)
