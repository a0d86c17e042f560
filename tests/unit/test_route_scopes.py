"""Every route is public (with its own protection) or names the API-key scope it needs."""

import uuid

import pytest
from litestar.handlers import HTTPRouteHandler

from feedback_svc.apikeys.service import Principal
from feedback_svc.app import create_app
from feedback_svc.lib.auth import PUBLIC, SCOPE, authorize
from feedback_svc.lib.errors import Forbidden
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


def test_a_refusal_names_the_scope_needed_and_the_scopes_the_key_has() -> None:
    principal = Principal(key_id=uuid.uuid4(), name="console", scopes=frozenset({"metrics", "agent"}))
    with pytest.raises(Forbidden) as refused:
        authorize(principal, "crm")
    assert refused.value.detail == (
        "The API key 'console' lacks the 'crm' scope this endpoint needs (it has: agent, metrics)."
    )
    authorize(principal, "agent")  # a scope it has passes


def test_a_route_without_a_scope_is_refused_to_every_key() -> None:
    admin = Principal(key_id=uuid.uuid4(), name="ops", scopes=frozenset({"admin"}))
    with pytest.raises(Forbidden, match="declares no scope"):
        authorize(admin, None)
