"""One client cannot try many accounts: failed logins are counted per client address as well
as per account, in windows every replica shares; a weak password is never set."""

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.app import create_app
from feedback_svc.settings import Settings
from tests.integration.rate_limit_flushes import count_flushes, flushed
from tests.integration.users.console_helpers import PASSWORD, log_in, make_user

NOW = 1_800_000_030.0  # a fixed clock: the test never straddles a window boundary
PER_CLIENT = 4


@pytest.fixture
async def throttled(settings: Settings) -> AsyncIterator[list[AsyncTestClient[Litestar]]]:
    """Two replicas on one database, each with its own process-local counter."""
    limited = msgspec.structs.replace(settings, console_max_failed_logins_per_client=PER_CLIENT)
    async with (
        AsyncTestClient(app=create_app(limited)) as first,
        AsyncTestClient(app=create_app(limited)) as second,
    ):
        for client in (first, second):
            client.app.state.rate_limiter.clock = lambda: NOW
            client.app.state.rate_limiter.flush_seconds = 0.02
            count_flushes(client)
        yield [first, second]


async def test_one_client_trying_many_accounts_is_stopped(
    throttled: list[AsyncTestClient[Litestar]], conn: asyncpg.Connection
) -> None:
    first, second = throttled
    for n in range(PER_CLIENT + 2):
        await make_user(conn, email=f"user{n}@example.com")
    wrong = "not the password at all"
    # one wrong guess on each of four accounts, over two replicas: no account is locked...
    for n in range(PER_CLIENT - 1):
        assert (await log_in(first, f"user{n}@example.com", wrong)).status_code == 401
    await flushed(throttled)
    assert (await log_in(second, f"user{PER_CLIENT - 1}@example.com", wrong)).status_code == 401
    await flushed(throttled)
    # ...but the client is: even the right password of another account waits
    refused = await log_in(second, f"user{PER_CLIENT + 1}@example.com", PASSWORD)
    assert refused.status_code == 429
    assert "Too many failed logins from your network. Try again in 15 minutes." in refused.text
    assert int(refused.headers["retry-after"]) == 900 - 30  # the window ends 870 s after NOW
    # a replica learns the shared count when it next counts a failure of its own: at most one
    # attempt more per replica (the price of not asking the database on every login)
    assert (await log_in(first, f"user{PER_CLIENT}@example.com", wrong)).status_code == 401
    assert (await log_in(first, f"user{PER_CLIENT + 1}@example.com", PASSWORD)).status_code == 429
    assert await conn.fetchval("SELECT count(*) FROM users WHERE locked_until IS NOT NULL") == 0
    assert await conn.fetchval("SELECT count(*) FROM user_sessions") == 0
    # a window later the client may try again
    first.app.state.rate_limiter.clock = lambda: NOW + 900
    assert (await log_in(first, f"user{PER_CLIENT + 1}@example.com", PASSWORD)).status_code == 303


async def test_successful_logins_cost_nothing(
    throttled: list[AsyncTestClient[Litestar]], conn: asyncpg.Connection
) -> None:
    """A team behind one office address logging in at nine is not a flood."""
    first, _ = throttled
    await make_user(conn, email="team@example.com")
    for _ in range(PER_CLIENT * 2):
        first.cookies.clear()
        assert (await log_in(first, "team@example.com")).status_code == 303


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("password1234", "on a list of common passwords"),
        ("qwertyuiop12", "on a list of common passwords"),
        ("asdfghjkl;123", "Straight rows of keys are easy to guess"),
        ("aaaaaaaaaaaaaaaa", "too easy to guess"),
        ("Pat Example 2026", "too easy to guess"),  # the person's own name
        ("a" * 80 + "Xy7#kq9!", "too easy to guess"),  # judged by its start, however long
    ],
)
async def test_weak_and_common_passwords_are_refused_in_the_console_and_the_cli(
    client: AsyncTestClient[Litestar],
    conn: asyncpg.Connection,
    database_url: str,
    password: str,
    reason: str,
) -> None:
    await make_user(conn, email="mia@example.com", role="manager")
    await log_in(client, "mia@example.com")
    page = await client.get("/console/users")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    form = {"csrf_token": token, "name": "Pat Example", "email": "pat@example.com", "role": "agent"}
    refused = await client.post("/console/users", data={**form, "password": password})
    assert refused.status_code == 422
    assert reason in refused.text

    env = {**os.environ, "DATABASE_URL": database_url, "FEEDBACK_SECRET_KEY": "s" * 40}
    command = [
        sys.executable, "-m", "feedback_svc.cli", "create-user",
        "--email", "pat@example.com", "--name", "Pat Example", "--role", "agent",
    ]  # fmt: skip
    done = await asyncio.to_thread(
        subprocess.run, command, input=password + "\n", env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert reason in done.stderr
    assert await conn.fetchval("SELECT count(*) FROM users WHERE email = 'pat@example.com'") == 0
