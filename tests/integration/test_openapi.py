import json
import re
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


def test_every_operation_with_an_api_key_declares_the_rate_limit() -> None:
    """The limit is counted where the key is checked, so every such operation can answer 429."""
    spec = json.loads(CHECKED_IN.read_text())
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            limited = operation["responses"].get("429")
            if not operation.get("security"):
                assert limited is None, f"{method} {path} takes no key, so no key's limit"
                continue
            assert limited is not None, f"{method} {path}"
            assert "application/problem+json" in limited["content"]
            assert limited["headers"]["Retry-After"]["required"] is True


def test_request_bodies_are_closed_like_the_decoder_that_reads_them() -> None:
    """StrictBody refuses unknown fields; the schema of every JSON request body says so."""
    spec = json.loads(CHECKED_IN.read_text())
    components = spec["components"]["schemas"]
    bodies = [
        operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        for operations in spec["paths"].values()
        for operation in operations.values()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    ]
    assert len(bodies) >= 17
    for name in [*bodies, "ScoreItem"]:  # ScoreItem: nested in ScoreRequest
        assert components[name]["additionalProperties"] is False, name
    # answers stay open: a field added later must not break a strict client's validation
    assert "additionalProperties" not in components["Customer"]


async def test_the_api_reference_is_served_from_our_own_files(client: AsyncTestClient[Litestar]) -> None:
    """/schema must work without internet access: nothing it loads comes from elsewhere."""
    page = await client.get("/schema")
    assert page.status_code == 200
    assert re.findall(r"""(?:src|href)=["']?https?:""", page.text) == [], "the page loads from another host"
    for asset in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"):
        assert f"/schema-assets/{asset}" in page.text
        served = await client.get(f"/schema-assets/{asset}")
        assert served.status_code == 200, asset
        assert len(served.content) > 10_000, asset
