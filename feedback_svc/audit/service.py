"""Who did what to which thing, and when: one row per action by a person or an admin key.

Console actions are recorded by the console itself (the actor is a user). Actions through
the API by keys that act for people (`agent`, `admin` scopes) are recorded for every
successful mutating request by `AuditMiddleware`, so no endpoint can forget to; CRM
keys are a system integration whose writes are the data itself, not actions to audit.
A replayed answer to a retry with the same Idempotency-Key did nothing, so it is not
recorded again.
"""

from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import structlog
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from feedback_svc.apikeys.service import Principal
from feedback_svc.audit.schemas import ActorType, AuditEntry, AuditPage
from feedback_svc.db.sql import load_queries
from feedback_svc.lib.idempotency import REPLAYED_HEADER
from feedback_svc.lib.request_context import request_id_of

Q = load_queries(Path(__file__).with_name("queries.sql"))
log = structlog.get_logger(__name__)

AUDITED_SCOPES = frozenset({"agent", "admin"})
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_REPLAYED = REPLAYED_HEADER.lower().encode()


async def record(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    actor_type: ActorType,
    actor_id: str,
    action: str,
    target_type: str | None = None,
    target_id: str | None = None,
    details: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> None:
    await conn.execute(
        Q["insert_entry"], actor_type, actor_id, action, target_type, target_id, details or {}, request_id
    )


async def list_entries(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    before: int | None,
    actor_type: str | None,
    actor_id: str | None,
    action: str | None,
    target_id: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> AuditPage:
    rows = await conn.fetch(
        Q["list_entries"], before, actor_type, actor_id, action, target_id, since, until, limit + 1
    )
    entries = [msgspec.convert(dict(row), AuditEntry) for row in rows[:limit]]
    return AuditPage(entries=entries, next_before=entries[-1].id if len(rows) > limit else None)


class AuditMiddleware(ASGIMiddleware):
    """Record each successful mutation made with an agent or admin key, after it is answered."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope["method"] not in MUTATING:
            await next_app(scope, receive, send)
            return
        status, replayed = 0, False

        async def remember_status(message: Message) -> None:
            nonlocal status, replayed
            if message["type"] == "http.response.start":
                status = message["status"]
                replayed = any(name.lower() == _REPLAYED for name, _ in message.get("headers", ()))
            await send(message)

        await next_app(scope, receive, remember_status)
        principal = scope.get("auth")
        if (
            isinstance(principal, Principal)
            and principal.scopes & AUDITED_SCOPES
            and 200 <= status < 300
            and not replayed
        ):
            await _record_api_action(scope, principal, status)


async def _record_api_action(scope: Scope, principal: Principal, status: int) -> None:
    route = scope.get("path_template") or scope["path"]
    params = {key: str(value) for key, value in (scope.get("path_params") or {}).items()}
    segments = route.strip("/").split("/")
    try:
        await record(
            scope["app"].state.pool,
            actor_type="api_key",
            actor_id=str(principal.key_id),
            action=f"{scope['method']} {route}",
            target_type=segments[1] if len(segments) > 1 else segments[0],
            target_id=next(iter(params.values())) if len(params) == 1 else None,
            details={"key_name": principal.name, "path_params": params, "status": status},
            request_id=request_id_of(scope),
        )
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        # the action itself is committed; a lost audit row is logged loudly, not hidden
        log.error("audit entry not written", action=f"{scope['method']} {route}", error=str(error))
