"""Liveness (the process answers) and readiness (the database answers, migrated)."""

import asyncio
from pathlib import Path

import asyncpg
import msgspec
from litestar import Controller, get
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from litestar.response.base import ASGIResponse

from feedback_svc.db.sql import load_queries
from feedback_svc.lib.errors import ServiceUnavailable
from feedback_svc.lib.openapi import problem_responses
from feedback_svc.lib.structs import Wire

Q = load_queries(Path(__file__).with_name("queries.sql"))
READY_TIMEOUT_SECONDS = 2.0


class Live(Wire):
    status: str


# The liveness probe is the most frequent request: its reply is built once and sent as it is
# (an ASGIResponse is not consumed by sending it), not encoded and wrapped on every call.
_LIVE = ASGIResponse(body=msgspec.json.encode(Live(status="ok")), media_type="application/json")


class Ready(Wire):
    status: str
    migration: str


class HealthController(Controller):
    path = "/health"
    tags = ["health"]
    opt = {"public": True}

    @get(
        "/live",
        summary="The process is up",
        cache_control=None,
        responses={
            200: ResponseSpec(
                data_container=Live,
                description="Request fulfilled, document follows",
                generate_examples=False,
            )
        },
    )
    async def live(self) -> ASGIResponse:
        return _LIVE

    @get("/ready", summary="The database is reachable and migrated", responses=problem_responses(503))
    async def ready(self, state: State) -> Ready:
        pool: asyncpg.Pool = state.pool
        expected: str = state.head_revision
        try:
            async with asyncio.timeout(READY_TIMEOUT_SECONDS):
                revision = await pool.fetchval(Q["current_revision"])
        except (
            OSError,
            TimeoutError,
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
            # the protocol state asyncpg is left in when a server's goodbye lands on an idle connection
            asyncpg.exceptions.InternalClientError,
        ) as error:
            raise ServiceUnavailable(
                f"The database is not reachable: {type(error).__name__}.", headers={"Retry-After": "5"}
            ) from error
        if revision != expected:
            raise ServiceUnavailable(
                f"The database is at migration {revision!r}; this version needs {expected!r}. "
                "Run `feedback-svc migrate`.",
                headers={"Retry-After": "30"},
            )
        return Ready(status="ready", migration=revision)
