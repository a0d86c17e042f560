"""A database that went away is a 503 with Retry-After wherever it surfaces; a bug stays a 500."""

from collections.abc import Callable

import asyncpg
import pytest
from litestar import Litestar, get
from litestar.testing import AsyncTestClient
from litestar.types import ASGIApp, Receive, Scope, Send

from feedback_svc.lib.problems import EXCEPTION_HANDLERS

Raise = Callable[[], BaseException]


def _closed_under_a_transaction() -> BaseException:
    # what `async with conn.transaction()` raises when the connection died inside the block
    try:
        raise asyncpg.exceptions.ConnectionDoesNotExistError(
            "connection was closed in the middle of operation"
        )
    except asyncpg.PostgresError:
        try:
            raise asyncpg.InterfaceError(
                "cannot call Transaction.__aexit__(): the underlying connection is closed"
            )
        except asyncpg.InterfaceError as error:
            return error


LOST: dict[str, Raise] = {
    "shut down by an administrator": lambda: asyncpg.AdminShutdownError("terminating connection"),
    "crash of another backend": lambda: asyncpg.CrashShutdownError("terminating connection"),
    "starting up": lambda: asyncpg.CannotConnectNowError("the database system is starting up"),
    "closed mid-operation": lambda: asyncpg.exceptions.ConnectionDoesNotExistError("closed"),
    "refused": lambda: ConnectionRefusedError(111, "Connection refused"),
    "no free connection in time": TimeoutError,
    "too many connections": lambda: asyncpg.TooManyConnectionsError("too many clients already"),
    "protocol left mid-error": lambda: asyncpg.exceptions.InternalClientError(
        "cannot switch to state 12; another operation (2) is in progress"
    ),
    "connection closed under a transaction": _closed_under_a_transaction,
}

BUGS: dict[str, Raise] = {
    "unique violation": lambda: asyncpg.UniqueViolationError("duplicate key"),
    "misuse of a connection": lambda: asyncpg.InterfaceError("another operation is in progress"),
    "a missing file": lambda: FileNotFoundError("templates/x.html"),
}


def _app(make: Raise, *, in_middleware: bool = False) -> Litestar:
    @get("/boom")
    async def boom() -> None:
        raise make()

    def middleware(app: ASGIApp) -> ASGIApp:
        async def call(scope: Scope, receive: Receive, send: Send) -> None:
            raise make()

        return call

    return Litestar(
        route_handlers=[boom],
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[middleware] if in_middleware else [],
    )


@pytest.mark.parametrize("in_middleware", [False, True], ids=["handler", "middleware"])
@pytest.mark.parametrize("make", LOST.values(), ids=LOST.keys())
async def test_a_lost_database_is_a_503_problem_with_retry_after(make: Raise, in_middleware: bool) -> None:
    async with AsyncTestClient(app=_app(make, in_middleware=in_middleware)) as client:
        response = await client.get("/boom")
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["retry-after"] == "5"
    assert "Idempotency-Key" in response.json()["detail"]


@pytest.mark.parametrize("make", BUGS.values(), ids=BUGS.keys())
async def test_other_database_and_os_errors_stay_500s(make: Raise) -> None:
    async with AsyncTestClient(app=_app(make)) as client:
        response = await client.get("/boom")
    assert response.status_code == 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "retry-after" not in response.headers
    assert "Traceback" not in response.text
