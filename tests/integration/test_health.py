import asyncpg
from litestar import Litestar
from litestar.middleware._internal.exceptions.middleware import ExceptionHandlerMiddleware
from litestar.testing import AsyncTestClient

from feedback_svc.lib.auth import ApiKeyAuthentication


async def test_live_answers_without_a_key(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"]


async def test_ready_when_database_is_migrated(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"


async def test_not_ready_when_migrations_are_behind(
    client: AsyncTestClient[Litestar], conn: asyncpg.Connection
) -> None:
    await conn.execute("UPDATE alembic_version SET version_num = 'older'")
    response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "feedback-svc migrate" in response.json()["detail"]


async def test_a_client_request_id_is_echoed(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/health/live", headers={"X-Request-Id": "crm-123.abc"})
    assert response.headers["x-request-id"] == "crm-123.abc"
    junk = await client.get("/health/live", headers={"X-Request-Id": "<script>"})
    assert junk.headers["x-request-id"] != "<script>"


async def test_public_routes_run_without_the_api_key_layer(client: AsyncTestClient[Litestar]) -> None:
    # the liveness probe is the cheapest request: no route middleware, not even a pass-through
    app = client.app
    live, _, _, _, _ = app.asgi_router.handle_routing(path="/health/live", method="GET")
    assert not isinstance(live, ApiKeyAuthentication | ExceptionHandlerMiddleware)
    options, _, _, _, _ = app.asgi_router.handle_routing(path="/health/live", method="OPTIONS")
    assert isinstance(options, ApiKeyAuthentication)  # OPTIONS is answered there, for every path
    protected, _, _, _, _ = app.asgi_router.handle_routing(path="/v1/customers", method="POST")
    assert isinstance(protected, ApiKeyAuthentication)
    # and the route right under it: errors are rendered by the exception layer around the router
    assert not isinstance(protected.app, ExceptionHandlerMiddleware)
