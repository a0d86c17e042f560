import json
from pathlib import Path

from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.lib.openapi_file import render_openapi

CHECKED_IN = Path(__file__).parents[2] / "openapi" / "openapi.json"


def test_checked_in_openapi_matches_the_app() -> None:
    assert CHECKED_IN.read_text() == render_openapi(), "run `feedback-svc openapi` and commit the result"


async def test_served_schema_is_the_checked_in_one(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    assert response.json() == json.loads(CHECKED_IN.read_text())


def test_every_v1_operation_declares_bearer_security() -> None:
    """Provider webhooks under /v1/inbound/ authenticate by their own signature instead."""
    spec = json.loads(CHECKED_IN.read_text())
    for path, operations in spec["paths"].items():
        if path.startswith("/v1/") and not path.startswith("/v1/inbound/"):
            for method, operation in operations.items():
                assert operation.get("security") == [{"bearerAuth": []}], f"{method} {path}"
