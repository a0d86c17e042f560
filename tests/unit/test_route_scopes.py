"""Every route is public (with its own protection) or names the API-key scope it needs."""

from litestar.handlers import HTTPRouteHandler

from feedback_svc.app import create_app
from feedback_svc.lib.auth import PUBLIC, SCOPE
from feedback_svc.settings import Settings

KNOWN_SCOPES = {"crm", "agent", "admin", "metrics"}


def test_every_route_is_public_or_declares_a_known_scope() -> None:
    app = create_app(Settings(database_url="postgresql://unused/db", secret_key="k" * 40))
    undeclared, unknown = [], []
    for route in app.routes:
        if route.path.startswith("/schema"):
            continue  # the OpenAPI document, excluded from authentication on purpose
        for handler in getattr(route, "route_handlers", []):
            if not isinstance(handler, HTTPRouteHandler) or handler.opt.get(PUBLIC):
                continue
            scope = handler.opt.get(SCOPE)
            if scope is None:
                undeclared.append(f"{sorted(handler.http_methods)} {route.path}")
            elif scope not in KNOWN_SCOPES:
                unknown.append(f"{route.path}: {scope}")
    assert undeclared == []
    assert unknown == []
