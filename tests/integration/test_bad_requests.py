"""Every malformed request gets the right 4xx problem+json and writes nothing."""

from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import KeyFactory

Client = AsyncTestClient[Litestar]


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status
    assert problem["type"].startswith("https://")
    assert problem["title"]
    assert problem["detail"]
    assert "Traceback" not in response.text
    return problem


async def count_customers(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT count(*) FROM customers")


async def test_invalid_json(client: Client, crm: dict[str, str], conn: asyncpg.Connection) -> None:
    response = await client.post(
        "/v1/customers", content=b'{"external_id": "x",', headers={**crm, "Content-Type": "application/json"}
    )
    problem = assert_problem(response, 400)
    assert "JSON" in problem["detail"]
    assert await count_customers(conn) == 0


async def test_unknown_field(client: Client, crm: dict[str, str], conn: asyncpg.Connection) -> None:
    response = await client.post("/v1/customers", json={"external_id": "x", "colour": "blue"}, headers=crm)
    problem = assert_problem(response, 422)
    assert "colour" in problem["detail"]
    assert await count_customers(conn) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"external_id": 5}, "external_id"),
        ({"external_id": "x", "value": "lots"}, "value"),
        ({"external_id": "x", "value": "5"}, "value"),  # strict: no silent coercion
        ({"external_id": "x", "attributes": {"a": [1]}}, "attributes"),
        ({"external_id": "x", "value": -1}, "value"),
        ({"external_id": "x", "locale": "english"}, "locale"),
        ({"external_id": ""}, "external_id"),
        ({"email": "a@b.example"}, "external_id"),
    ],
)
async def test_wrong_types_and_limits(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection, body: dict[str, Any], field: str
) -> None:
    problem = assert_problem(await client.post("/v1/customers", json=body, headers=crm), 422)
    assert field in problem["detail"]
    assert any(str(error.get("field", "")).startswith(field) for error in problem["errors"])
    assert await count_customers(conn) == 0


async def test_missing_key(client: Client, conn: asyncpg.Connection) -> None:
    response = await client.post("/v1/customers", json={"external_id": "x"})
    problem = assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "Authorization" in problem["detail"]
    assert await count_customers(conn) == 0


@pytest.mark.parametrize(
    "header",
    ["Bearer fsk_000000000000_wrongwrongwrong", "Bearer nonsense", "Basic dXNlcjpwYXNz", "Bearer "],
)
async def test_wrong_key(client: Client, conn: asyncpg.Connection, header: str) -> None:
    response = await client.post(
        "/v1/customers", json={"external_id": "x"}, headers={"Authorization": header}
    )
    assert_problem(response, 401)
    assert await count_customers(conn) == 0


async def test_tampered_secret_of_a_real_key(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection
) -> None:
    real = crm["Authorization"]
    tampered = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    response = await client.post(
        "/v1/customers", json={"external_id": "x"}, headers={"Authorization": tampered}
    )
    assert_problem(response, 401)
    assert await count_customers(conn) == 0


async def test_key_without_the_scope(client: Client, make_key: KeyFactory, conn: asyncpg.Connection) -> None:
    agent = await make_key("agent", name="console")
    response = await client.post("/v1/customers", json={"external_id": "x"}, headers=agent)
    problem = assert_problem(response, 403)
    assert "'crm'" in problem["detail"]
    assert await count_customers(conn) == 0


async def test_admin_key_passes_every_scope(client: Client, make_key: KeyFactory) -> None:
    admin = await make_key("admin", name="ops")
    response = await client.post("/v1/customers", json={"external_id": "x"}, headers=admin)
    assert response.status_code == 201


async def test_revoked_key_is_refused(client: Client, crm: dict[str, str], conn: asyncpg.Connection) -> None:
    assert (await client.post("/v1/customers", json={"external_id": "x"}, headers=crm)).status_code == 201
    await conn.execute("UPDATE api_keys SET revoked_at = now()")
    problem = assert_problem(await client.post("/v1/customers", json={"external_id": "y"}, headers=crm), 401)
    assert "revoked" in problem["detail"]
    assert await count_customers(conn) == 1


async def test_unknown_route_and_method(client: Client, crm: dict[str, str]) -> None:
    assert_problem(await client.get("/v1/nothing-here", headers=crm), 404)
    assert_problem(await client.delete("/health/live"), 405)


async def test_body_too_large(client: Client, crm: dict[str, str], conn: asyncpg.Connection) -> None:
    body = b'{"external_id": "' + b"x" * 2_000_000 + b'"}'
    response = await client.post(
        "/v1/customers", content=body, headers={**crm, "Content-Type": "application/json"}
    )
    assert_problem(response, 413)
    assert await count_customers(conn) == 0


async def test_a_nul_character_is_a_clear_422_not_a_500(
    client: AsyncTestClient[Litestar], make_key: KeyFactory
) -> None:
    agent = await make_key("agent")
    listed = await client.get("/v1/recovery/tasks", params={"touchpoint": "deli\x00very"}, headers=agent)
    assert listed.status_code == 422
    assert listed.headers["content-type"].startswith("application/problem+json")
    assert "NUL" in listed.json()["detail"]


async def test_an_interaction_for_an_unknown_customer_id_is_404(
    client: AsyncTestClient[Litestar], crm: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/interactions",
        json={
            "customer_id": "463c2098-2d00-303b-9bdf-5777245e8552",
            "touchpoint": "delivery",
            "occurred_at": "2026-11-01T10:00:00Z",
        },
        headers=crm,
    )
    assert response.status_code == 404
    assert "POST /v1/customers" in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/customers", {"external_id": "x", "locale": "en\n"}, "locale"),
        ("/v1/customers", {"external_id": "x", "locale": "pt-BR\n"}, "locale"),
        (
            "/v1/interactions",
            {
                "customer_external_id": "x",
                "touchpoint": "support_call\n",
                "occurred_at": "2026-01-01T00:00:00Z",
            },
            "touchpoint",
        ),
        ("/v1/invitations", {"customer_external_id": "x", "survey": "nps\n"}, "survey"),
        ("/v1/responses", {"customer_external_id": "x", "survey": "nps\n", "score": 5}, "survey"),
        (
            "/v1/recovery/tasks/00000000-0000-4000-8000-000000000000/resolve",
            {
                "lease_token": "00000000-0000-4000-8000-000000000001",
                "outcome": "recovered",
                "root_cause": "late_delivery\n",
            },
            "root_cause",
        ),
    ],
)
async def test_a_trailing_newline_does_not_pass_a_pattern(
    client: Client,
    make_key: KeyFactory,
    conn: asyncpg.Connection,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    """`$` in a Python pattern matches before a final newline; the patterns mean the spec's `$`.

    The body is refused before anything is looked up (the task above does not exist)."""
    key = await make_key("admin")
    problem = assert_problem(await client.post(path, json=body, headers=key), 422)
    assert problem["errors"][0]["field"] == field
    assert await count_customers(conn) == 0
