import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient


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
