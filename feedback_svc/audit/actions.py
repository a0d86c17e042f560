"""Writing audit rows: one per action by a person or an admin key, in the action's own transaction.

Console actions are recorded by the console itself (the actor is a user). Actions through the
API by keys that act for people (`agent`, `admin` scopes) are recorded by `respond_idempotently`
(lib/idempotency.py), through which every mutating API endpoint runs, inside the transaction of
the work: an action is committed with its audit row or not at all. CRM keys are a system
integration whose writes are the data itself, not actions to audit. A replayed answer to a
retry with the same Idempotency-Key did nothing, so it is not recorded again.
"""

from pathlib import Path
from typing import Any

import asyncpg
from litestar.types import Scope

from feedback_svc.apikeys.service import Principal
from feedback_svc.audit.schemas import ActorType
from feedback_svc.db.sql import load_queries
from feedback_svc.lib.request_context import request_id_of

Q = load_queries(Path(__file__).with_name("queries.sql"))

AUDITED_SCOPES = frozenset({"agent", "admin"})


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


def is_audited(principal: Principal) -> bool:
    return bool(principal.scopes & AUDITED_SCOPES)


async def record_api_action(
    conn: asyncpg.Connection, scope: Scope, principal: Principal, status: int
) -> None:
    """The action of this request, named by its route: `POST /v1/recovery/tasks/{task_id:uuid}/resolve`."""
    route = scope.get("path_template") or scope["path"]
    params = {key: str(value) for key, value in (scope.get("path_params") or {}).items()}
    segments = route.strip("/").split("/")
    await record(
        conn,
        actor_type="api_key",
        actor_id=str(principal.key_id),
        action=f"{scope['method']} {route}",
        target_type=segments[1] if len(segments) > 1 else segments[0],
        target_id=next(iter(params.values())) if len(params) == 1 else None,
        details={"key_name": principal.name, "path_params": params, "status": status},
        request_id=request_id_of(scope),
    )
