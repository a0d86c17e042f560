"""HTTP for alerts (admin): the rules of who hears about what, and the record of every alert."""

from typing import Annotated
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter

from feedback_svc.alerts import service
from feedback_svc.alerts.schemas import (
    AlertPage,
    AlertRule,
    AlertRuleUpdate,
    AlertStatus,
    AlertTrigger,
    Channel,
    Urgency,
)
from feedback_svc.apikeys.service import Principal
from feedback_svc.lib.auth import requires_scope
from feedback_svc.lib.body import StrictBody
from feedback_svc.lib.bounds import BIGINT_MAX
from feedback_svc.lib.idempotency import IdempotencyKey, respond_idempotently
from feedback_svc.lib.openapi import BEARER, problem_responses

AdminRequest = Request[Principal, Principal, State]

_encoder = msgspec.json.Encoder()


class AlertsController(Controller):
    path = "/v1/alerts"
    tags = ["alerts"]
    opt = requires_scope("admin")
    security = BEARER

    @get(
        "/",
        summary="Every alert sent to the team, newest first",
        description="One row per task, trigger and recipient: pending, sent, failed (with the error) or "
        "cancelled (the task was resolved or the customer contacted before it went out).",
        responses=problem_responses(400, 401, 403, 422),
    )
    async def list_alerts(
        self,
        *,
        request: AdminRequest,
        pool: NamedDependency[asyncpg.Pool],
        status: FromQuery[AlertStatus | None] = None,
        trigger: FromQuery[AlertTrigger | None] = None,
        task_id: FromQuery[UUID | None] = None,
        channel: FromQuery[Channel | None] = None,
        before: Annotated[
            int | None, Parameter(ge=1, le=BIGINT_MAX, description="Only alerts older than this id.")
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
    ) -> AlertPage:
        return await service.list_alerts(
            pool,
            status=status,
            trigger=trigger,
            task_id=task_id,
            channel=channel,
            before=before,
            limit=limit,
            base_url=request.app.state.settings.base_url,
        )

    @get(
        "/rules",
        summary="Who hears about what: a rule per trigger and urgency",
        responses=problem_responses(401, 403),
    )
    async def list_rules(self, pool: NamedDependency[asyncpg.Pool]) -> list[AlertRule]:
        return await service.list_rules(pool)

    @put(
        "/rules/{trigger:str}/{urgency:str}",
        summary="Change who hears about a trigger at an urgency",
        description="Recipients: the task's owner (every agent while nobody owns it), console users by "
        "role or id, email addresses and Slack-compatible incoming-webhook URLs (public addresses only, "
        "checked again at every send). Unknown user ids and unreachable URLs are refused (422).",
        dto=StrictBody[AlertRuleUpdate],
        return_dto=None,
        responses=problem_responses(400, 401, 403, 404, 409, 413, 422),
    )
    async def update_rule(
        self,
        *,
        request: AdminRequest,
        pool: NamedDependency[asyncpg.Pool],
        trigger: FromPath[AlertTrigger],
        urgency: FromPath[Urgency],
        data: JSONBody[AlertRuleUpdate],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[AlertRule]:
        allow_private = bool(request.app.state.settings.webhooks_allow_private)

        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            rule = await service.update_rule(conn, trigger, urgency, data, allow_private=allow_private)
            return 200, _encoder.encode(rule)

        return await respond_idempotently(request, pool, idempotency_key, work)
