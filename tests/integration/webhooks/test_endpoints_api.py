"""The webhook endpoints API: admin only, secret shown once, private targets refused."""

from collections.abc import AsyncIterator

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from standardwebhooks import Webhook

from feedback_svc.app import create_app
from feedback_svc.settings import Settings
from tests.conftest import KeyFactory
from tests.integration.webhooks.conftest import register

PUBLIC_URL = "https://93.184.215.14/hooks"  # an IP literal: no DNS needed, and public


@pytest.fixture
async def strict_client(settings: Settings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """The app with the default rule: private targets refused."""
    strict = msgspec.structs.replace(settings, webhooks_allow_private=False)
    async with AsyncTestClient(app=create_app(strict)) as client:
        yield client


async def test_the_secret_is_shown_once_at_creation_and_never_again(
    client: AsyncTestClient[Litestar], admin: dict[str, str]
) -> None:
    created = await register(
        client, admin, PUBLIC_URL, "response.created", "task.created", "task.created", description="CRM"
    )
    secret = created["secret"]
    assert secret.startswith("whsec_")
    Webhook(secret)  # the reference library accepts it
    assert created["event_types"] == ["response.created", "task.created"]
    assert (created["enabled"], created["description"], created["url"]) == (True, "CRM", PUBLIC_URL)

    one = await client.get(f"/v1/webhook-endpoints/{created['id']}", headers=admin)
    listed = await client.get("/v1/webhook-endpoints", headers=admin)
    patched = await client.patch(
        f"/v1/webhook-endpoints/{created['id']}", json={"description": "renamed"}, headers=admin
    )
    for response in (one, listed, patched):
        assert response.status_code == 200, response.text
        assert "whsec_" not in response.text
        assert secret.removeprefix("whsec_") not in response.text
    assert [e["id"] for e in listed.json()] == [created["id"]]
    assert "secret" not in one.json()

    rotated = await client.post(f"/v1/webhook-endpoints/{created['id']}/rotate-secret", headers=admin)
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != secret
    assert "whsec_" not in (await client.get(f"/v1/webhook-endpoints/{created['id']}", headers=admin)).text


async def test_update_disable_enable_and_delete(
    client: AsyncTestClient[Litestar], admin: dict[str, str]
) -> None:
    endpoint = await register(client, admin, PUBLIC_URL)
    url = f"/v1/webhook-endpoints/{endpoint['id']}"

    disabled = await client.patch(
        url, json={"enabled": False, "event_types": ["task.resolved"]}, headers=admin
    )
    assert disabled.status_code == 200
    assert (disabled.json()["enabled"], disabled.json()["event_types"]) == (False, ["task.resolved"])
    assert disabled.json()["disabled_reason"] == "disabled by an admin"

    enabled = await client.patch(url, json={"enabled": True, "description": None}, headers=admin)
    assert (enabled.json()["enabled"], enabled.json()["disabled_at"], enabled.json()["description"]) == (
        True,
        None,
        None,
    )

    assert (await client.delete(url, headers=admin)).status_code == 204
    for response in (
        await client.get(url, headers=admin),
        await client.delete(url, headers=admin),
        await client.get(f"{url}/deliveries", headers=admin),
        await client.post(f"{url}/rotate-secret", headers=admin),
        await client.post(f"{url}/deliveries/1/replay", headers=admin),
    ):
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hooks",
        "http://10.1.2.3/hooks",
        "https://192.168.0.10/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:9000/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://localhost:8000/hooks",
    ],
)
async def test_private_targets_are_refused_when_the_setting_is_off(
    strict_client: AsyncTestClient[Litestar], make_key: KeyFactory, url: str
) -> None:
    admin = await make_key("admin")
    response = await strict_client.post(
        "/v1/webhook-endpoints", json={"url": url, "event_types": ["task.created"]}, headers=admin
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["errors"][0]["field"] == "url"
    assert "FEEDBACK_WEBHOOKS_ALLOW_PRIVATE" in problem["detail"]
    assert (await strict_client.get("/v1/webhook-endpoints", headers=admin)).json() == []

    # the same rule on update
    endpoint = await register(strict_client, admin, PUBLIC_URL)
    moved = await strict_client.patch(
        f"/v1/webhook-endpoints/{endpoint['id']}", json={"url": url}, headers=admin
    )
    assert moved.status_code == 422


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://93.184.215.14/x", "event_types": ["task.created"]}, "url"),
        ({"url": "https://user:pw@93.184.215.14/x", "event_types": ["task.created"]}, "url"),
        ({"url": "https://93.184.215.14/x", "event_types": []}, "event_types"),
        ({"url": "https://93.184.215.14/x", "event_types": ["task.deleted"]}, "event_types[0]"),
        ({"url": "https://93.184.215.14/x", "event_types": ["task.created"], "secret": "mine"}, "body"),
        ({"event_types": ["task.created"]}, "url"),
    ],
)
async def test_bad_registrations_get_problem_details(
    strict_client: AsyncTestClient[Litestar], make_key: KeyFactory, body: dict[str, object], field: str
) -> None:
    response = await strict_client.post("/v1/webhook-endpoints", json=body, headers=await make_key("admin"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    errors = response.json().get("errors") or [{"field": "body"}]
    assert errors[0]["field"] == field


async def test_only_admin_keys_manage_endpoints(
    client: AsyncTestClient[Litestar], crm: dict[str, str], admin: dict[str, str]
) -> None:
    body = {"url": PUBLIC_URL, "event_types": ["task.created"]}
    assert (await client.post("/v1/webhook-endpoints", json=body)).status_code == 401
    assert (await client.post("/v1/webhook-endpoints", json=body, headers=crm)).status_code == 403
    assert (await client.get("/v1/webhook-endpoints", headers=crm)).status_code == 403
    assert (await client.post("/v1/webhook-endpoints", json=body, headers=admin)).status_code == 201


async def test_deliveries_listing_validates_its_query_and_replay_needs_an_enabled_endpoint(
    client: AsyncTestClient[Litestar], admin: dict[str, str]
) -> None:
    endpoint = await register(client, admin, PUBLIC_URL)
    base = f"/v1/webhook-endpoints/{endpoint['id']}"
    empty = await client.get(f"{base}/deliveries", headers=admin)
    assert empty.json() == {"items": [], "next_before": None}
    for params in ({"status": "lost"}, {"limit": "0"}, {"limit": "201"}, {"before": "-1"}):
        response = await client.get(f"{base}/deliveries", params=params, headers=admin)
        assert response.status_code in (400, 422), (params, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    huge = await client.post(f"{base}/deliveries/{2**64}/replay", headers=admin)
    assert huge.status_code in (400, 404, 422)
    assert huge.headers["content-type"] == "application/problem+json"
