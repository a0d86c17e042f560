"""GET /v1/audit-log: what people and admin keys did, for admins."""

from datetime import datetime
from typing import Annotated

import asyncpg
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from feedback_svc.audit import service
from feedback_svc.audit.schemas import ActorType, AuditPage
from feedback_svc.lib.auth import requires_scope
from feedback_svc.lib.bounds import BIGINT_MAX, check_instant
from feedback_svc.lib.openapi import BEARER, problem_responses


class AuditController(Controller):
    path = "/v1/audit-log"
    tags = ["operations"]
    opt = requires_scope("admin")
    security = BEARER

    @get(
        summary="Read the audit log, newest first",
        description="Filter by actor, action prefix (e.g. `POST /v1/recovery`), target or time; "
        "page with `before` = the previous page's `next_before`.",
        responses=problem_responses(400, 401, 403, 422),
    )
    async def list_audit_log(
        self,
        pool: NamedDependency[asyncpg.Pool],
        *,
        before: Annotated[int | None, QueryParameter(ge=1, le=BIGINT_MAX)] = None,
        actor_type: Annotated[ActorType | None, QueryParameter()] = None,
        actor_id: Annotated[str | None, QueryParameter(max_length=200)] = None,
        action: Annotated[str | None, QueryParameter(max_length=200)] = None,
        target_id: Annotated[str | None, QueryParameter(max_length=200)] = None,
        since: Annotated[datetime | None, QueryParameter()] = None,
        until: Annotated[datetime | None, QueryParameter()] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> AuditPage:
        return await service.list_entries(
            pool,
            before=before,
            actor_type=actor_type,
            actor_id=actor_id,
            action=action,
            target_id=target_id,
            since=check_instant(since, field="since"),
            until=check_instant(until, field="until"),
            limit=limit,
        )
