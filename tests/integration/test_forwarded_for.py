"""X-Forwarded-For is believed only from FEEDBACK_TRUSTED_PROXIES, under the server `serve` runs.

A client that may name its own address picks a fresh rate-limit bucket per request. The app
runs under uvicorn with the options `feedback-svc serve` uses, on a loopback port, and is
asked over real HTTP from 127.0.0.1.
"""

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import msgspec
import pytest
import uvicorn

from feedback_svc.app import create_app
from feedback_svc.cli import uvicorn_options
from feedback_svc.settings import Settings, SettingsError
from tests.waiting import eventually

NOW = 1_800_000_030.0  # a fixed clock: the test never straddles a window boundary
LIMIT = 3


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    settings = msgspec.structs.replace(settings, rate_limit_public_per_minute=LIMIT)
    app = create_app(settings)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    options = {**uvicorn_options(settings), "port": listener.getsockname()[1], "log_level": "warning"}
    server = uvicorn.Server(uvicorn.Config(app, **options))  # type: ignore[arg-type]
    task = asyncio.create_task(server.serve(sockets=[listener]))
    try:

        async def started() -> bool:
            assert not task.done(), "the server ended before it started"
            return server.started

        await eventually(started, what="uvicorn to start")
        app.state.rate_limiter.clock = lambda: NOW
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{listener.getsockname()[1]}") as client:
            yield client
    finally:
        server.should_exit = True
        await task
        listener.close()


async def statuses(client: httpx.AsyncClient, forwarded_for: list[str]) -> list[int]:
    # an unknown token: the page says so, and the request still counts towards the limit
    return [
        (await client.get("/s/not-a-token", headers={"X-Forwarded-For": address})).status_code
        for address in forwarded_for
    ]


async def test_by_default_a_forwarded_for_header_buys_no_fresh_bucket(settings: Settings) -> None:
    assert settings.trusted_proxies == ""
    async with served(settings) as client:
        spoofed = [f"203.0.113.{n}" for n in range(LIMIT + 1)]
        assert await statuses(client, spoofed) == [404] * LIMIT + [429]


async def test_behind_a_trusted_proxy_each_client_has_its_own_bucket(settings: Settings) -> None:
    behind_proxy = msgspec.structs.replace(settings, trusted_proxies="127.0.0.0/8, ::1")
    async with served(behind_proxy) as client:
        clients = [f"203.0.113.{n}" for n in range(LIMIT + 1)]
        assert await statuses(client, clients) == [404] * (LIMIT + 1)
        # the proxy appends the address it saw: the client's own claim on the left is ignored
        same = [f"198.51.100.{n}, 203.0.113.9" for n in range(LIMIT + 1)]
        assert await statuses(client, same) == [404] * LIMIT + [429]


def test_serve_leaves_forwarded_headers_to_the_app() -> None:
    assert uvicorn_options(Settings())["proxy_headers"] is False


@pytest.mark.parametrize("value", ["10.0.0.5", "10.0.0.0/8", "10.0.0.5, 2001:db8::/32", ""])
def test_trusted_proxies_are_addresses_or_networks(value: str) -> None:
    env = {"FEEDBACK_TRUSTED_PROXIES": value}
    assert Settings.from_env(env).trusted_proxies == value


@pytest.mark.parametrize("value", ["*", "proxy.internal", "10.0.0.0/33"])
def test_anything_else_stops_start_up_with_the_variables_name(value: str) -> None:
    with pytest.raises(SettingsError, match="FEEDBACK_TRUSTED_PROXIES"):
        Settings.from_env({"FEEDBACK_TRUSTED_PROXIES": value})
