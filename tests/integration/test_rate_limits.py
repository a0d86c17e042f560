"""Rate limits hold across replicas: two apps on one database share each window."""

from collections.abc import AsyncIterator

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.app import create_app
from feedback_svc.lib.ratelimit import RateLimiter
from feedback_svc.settings import Settings
from tests.conftest import KeyFactory
from tests.integration.rate_limit_flushes import count_flushes, flushed

NOW = 1_800_000_030.0  # a fixed clock: the test never straddles a window boundary


@pytest.fixture
async def replicas(settings: Settings) -> AsyncIterator[list[AsyncTestClient[Litestar]]]:
    limited = msgspec.structs.replace(settings, rate_limit_api_per_minute=10, rate_limit_public_per_minute=3)
    async with (
        AsyncTestClient(app=create_app(limited)) as first,
        AsyncTestClient(app=create_app(limited)) as second,
    ):
        for client in (first, second):
            limiter(client).clock = lambda: NOW
            limiter(client).flush_seconds = 0.02
            count_flushes(client)
        yield [first, second]


def limiter(client: AsyncTestClient[Litestar]) -> RateLimiter:
    return client.app.state.rate_limiter


async def test_an_api_key_limit_is_shared_by_replicas(
    replicas: list[AsyncTestClient[Litestar]], make_key: KeyFactory
) -> None:
    first, second = replicas
    key = await make_key("crm")
    for _ in range(6):
        assert (await first.get("/v1/surveys", headers=key)).status_code == 200
    await flushed(replicas)

    assert (await second.get("/v1/surveys", headers=key)).status_code == 200
    await flushed(replicas)  # the second replica now knows of all 7
    statuses = [(await second.get("/v1/surveys", headers=key)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]

    refused = await second.get("/v1/surveys", headers=key)
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert int(refused.headers["retry-after"]) == 30  # the window ends 30 s after NOW
    assert "10 a minute" in refused.json()["detail"]

    # The first replica last heard a total of 6: it lets one more through, hears the
    # real total at its flush, and refuses from then on (the documented overshoot).
    await flushed(replicas)
    assert (await first.get("/v1/surveys", headers=key)).status_code == 200
    await flushed(replicas)
    assert (await first.get("/v1/surveys", headers=key)).status_code == 429


async def test_keys_are_limited_separately(
    replicas: list[AsyncTestClient[Litestar]], make_key: KeyFactory
) -> None:
    first, _ = replicas
    busy, quiet = await make_key("crm", name="busy"), await make_key("crm", name="quiet")
    for _ in range(10):
        await first.get("/v1/surveys", headers=busy)
    assert (await first.get("/v1/surveys", headers=busy)).status_code == 429
    assert (await first.get("/v1/surveys", headers=quiet)).status_code == 200


async def test_public_token_pages_are_limited_per_client(replicas: list[AsyncTestClient[Litestar]]) -> None:
    first, second = replicas
    for _ in range(2):
        assert (await first.get("/s/not-a-real-token")).status_code != 429
    await flushed(replicas)
    assert (await second.get("/s/not-a-real-token")).status_code != 429
    await flushed(replicas)
    refused = await second.post("/u/not-a-real-token")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "30"
    # the web form too, refused before its body is read
    assert (await second.post("/s/not-a-real-token", data={"score": "5"})).status_code == 429


async def test_health_is_never_limited(replicas: list[AsyncTestClient[Litestar]]) -> None:
    first, _ = replicas
    statuses = {(await first.get("/health/live")).status_code for _ in range(20)}
    assert statuses == {200}
