"""HTTP for the recovery queue; the rules live in service.py."""

from datetime import datetime, timedelta
from typing import Annotated
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from feedback_svc.apikeys.service import Principal
from feedback_svc.lib.auth import requires_scope
from feedback_svc.lib.body import StrictBody
from feedback_svc.lib.idempotency import IdempotencyKey, respond_idempotently
from feedback_svc.lib.openapi import BEARER, problem_responses
from feedback_svc.recovery import service
from feedback_svc.recovery.schemas import (
    Assign,
    ClaimedTask,
    ClaimRequest,
    ContactAttempt,
    Effectiveness,
    LeaseExtend,
    LeaseRelease,
    NoteCreate,
    Reopen,
    Resolve,
    Rule,
    RuleUpdate,
    Status,
    Task,
    TaskDetail,
    TaskPage,
    Trigger,
)
from feedback_svc.recovery.score_change import DEFAULT_AFTER_DAYS
from feedback_svc.recovery.service import Actor, TaskFilter

AGENT_NOTE = (
    " You act as the agent your API key was created for (`create-key --scope agent --agent NAME`); "
    "`agent` in the body may be left out, and another name than the key's agent is refused with 403. "
    "A key that acts for nobody works unassigned tasks only, and a name it sends is shown in the "
    "history, never trusted."
)

AgentRequest = Request[Principal, Principal, State]
READ_ERRORS = problem_responses(401, 403, 404, 422)
LEASED_ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 422)

_encoder = msgspec.json.Encoder()


def _actor(request: AgentRequest, agent: str | None) -> Actor:
    """The key's agent; a sent name must match it (a key acting for nobody only shows the name)."""
    principal = request.user
    return service.key_actor(key_name=principal.name, key_agent=principal.agent, sent=agent)


def _lease(request: AgentRequest, seconds: int | None) -> timedelta:
    return timedelta(seconds=seconds or request.app.state.settings.recovery_lease_seconds)


class RecoveryController(Controller):
    path = "/v1/recovery"
    tags = ["recovery"]
    opt = requires_scope("agent")
    security = BEARER

    @get("/tasks", summary="List recovery tasks, most important first", responses=READ_ERRORS)
    async def list_tasks(
        self,
        *,
        pool: NamedDependency[asyncpg.Pool],
        status: FromQuery[Status | None] = None,
        trigger: FromQuery[Trigger | None] = None,
        touchpoint: Annotated[str | None, QueryParameter(max_length=64)] = None,
        assignee: Annotated[str | None, QueryParameter(max_length=320)] = None,
        overdue: Annotated[
            bool | None, QueryParameter(description="Open, never contacted and past the deadline.")
        ] = None,
        customer_id: FromQuery[UUID | None] = None,
        theme: Annotated[
            int | None,
            QueryParameter(
                ge=1,
                le=2**63 - 1,
                description="Only tasks with an answer among their evidence whose comment is about this "
                "comment theme (GET /v1/themes).",
            ),
        ] = None,
        escalated: Annotated[
            bool | None,
            QueryParameter(
                description="Escalated: its deadline passed without contact (the managers' view)."
            ),
        ] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=200, description="From next_cursor.")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> TaskPage:
        filters = TaskFilter(
            status=status,
            trigger=trigger,
            touchpoint=touchpoint,
            assignee=assignee,
            overdue=overdue,
            customer_id=customer_id,
            theme=theme,
            escalated=escalated,
        )
        return await service.list_tasks(pool, filters, cursor=cursor, limit=limit)

    @get(
        "/tasks/{task_id:uuid}",
        summary="One task with its evidence and history",
        responses=READ_ERRORS,
    )
    async def get_task(self, pool: NamedDependency[asyncpg.Pool], task_id: FromPath[UUID]) -> TaskDetail:
        return await service.get_task_detail(pool, task_id)

    @post(
        "/tasks/claim",
        summary="Claim the most important open task nobody holds",
        description="Leases the task to you: send `lease_token` with every change, extend the lease "
        "while you work; an expired lease puts the task back in the queue. Tasks assigned to another "
        "agent are never claimed. 204 when the queue is empty." + AGENT_NOTE,
        dto=StrictBody[ClaimRequest],
        return_dto=None,
        status_code=200,
        responses={
            204: ResponseSpec(data_container=None, description="Nothing to claim right now."),
            **problem_responses(400, 401, 403, 409, 413, 422),
        },
    )
    async def claim(
        self,
        request: AgentRequest,
        pool: NamedDependency[asyncpg.Pool],
        data: JSONBody[ClaimRequest],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[ClaimedTask]:
        actor = _actor(request, data.agent)

        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            task = await service.claim_next(conn, actor=actor, lease=_lease(request, data.lease_seconds))
            return (204, b"") if task is None else (200, _encoder.encode(task))

        return await respond_idempotently(request, pool, idempotency_key, work)

    @post(
        "/tasks/{task_id:uuid}/lease",
        summary="Extend your lease on a task",
        dto=StrictBody[LeaseExtend],
        return_dto=None,
        status_code=200,
        responses=LEASED_ERRORS,
    )
    async def extend_lease(
        self,
        request: AgentRequest,
        pool: NamedDependency[asyncpg.Pool],
        task_id: FromPath[UUID],
        data: JSONBody[LeaseExtend],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[ClaimedTask]:
        actor = _actor(request, data.agent)

        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            changed = await service.extend_lease(
                conn,
                task_id,
                token=data.lease_token,
                actor=actor,
                lease=_lease(request, data.lease_seconds),
            )
            return 200, _encoder.encode(changed)

        return await respond_idempotently(request, pool, idempotency_key, work)

    @post(
        "/tasks/{task_id:uuid}/release",
        summary="Give a task back to the queue",
        dto=StrictBody[LeaseRelease],
        return_dto=None,
        status_code=200,
        responses=LEASED_ERRORS,
    )
    async def release(
        self,
        request: AgentRequest,
        pool: NamedDependency[asyncpg.Pool],
        task_id: FromPath[UUID],
        data: JSONBody[LeaseRelease],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Task]:
        actor = _actor(request, data.agent)

        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            changed = await service.release(conn, task_id, token=data.lease_token, actor=actor)
            return 200, _encoder.encode(changed)

        return await respond_idempotently(request, pool, idempotency_key, work)

    @post(
        "/tasks/{task_id:uuid}/assign",
        summary="Assign an open task to an agent (null unassigns): the lease holder or an admin",
        description="Only that agent's claims will take it. The agent holding the task sends its "
        "`lease_token`; handing it to someone else ends that lease, so the assignee can claim it at once. "
        "An admin key needs no lease. The assignee must be able to claim tasks: an enabled console user "
        "(their email) or the agent of a live API key (422 otherwise)." + AGENT_NOTE,
        dto=StrictBody[Assign],
        return_dto=None,
        status_code=200,
        responses=LEASED_ERRORS,
    )
    async def assign(
        self,
        request: AgentRequest,
        pool: NamedDependency[asyncpg.Pool],
        task_id: FromPath[UUID],
        data: JSONBody[Assign],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Task]:
        actor = _actor(request, data.agent)

        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            changed = await service.assign(
                conn,
                task_id,
                assignee=data.assignee,
                actor=actor,
                token=data.lease_token,
                admin="admin" in request.user.scopes,
            )
            return 200, _encoder.encode(changed)

        return await respond_idempotently(request, pool, idempotency_key, work)

    @post(
        "/tasks/{task_id:uuid}/notes",
        summary="Add a note to a task you hold",
        dto=StrictBody[NoteCreate],
        return_dto=None,
        status_code=201,
        responses=LEASED_ERRORS,
    )
    async def add_note(
        self,
        request: AgentRequest,
        pool: NamedDependency[asyncpg.Pool],
        task_id: FromPath[UUID],
        data: JSONBody[NoteCreate],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Task]:
        actor = _actor(request, data.agent)

        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            changed = await service.add_note(
                conn, task_id, token=data.lease_token, text=data.text, actor=actor
            )
            return 201, _encoder.encode(changed)

        return await respond_idempotently(request, pool, idempotency_key, work)

    @post(
        "/tasks/{task_id:uuid}/contact-attempts",
        summary="Record a contact attempt (the first one keeps or breaks the promise)",
        dto=StrictBody[ContactAttempt],
        return_dto=None,
        status_code=201,
        responses=LEASED_ERRORS,
    )
    async def record_contact(
        self,
        request: AgentRequest,
        pool: NamedDependency[asyncpg.Pool],
        task_id: FromPath[UUID],
        data: JSONBody[ContactAttempt],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Task]:
        actor = _actor(request, data.agent)

        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            changed = await service.record_contact(
                conn,
                task_id,
                token=data.lease_token,
                channel=data.channel,
                reached=data.reached,
                note=data.note,
                actor=actor,
            )
            return 201, _encoder.encode(changed)

        return await respond_idempotently(request, pool, idempotency_key, work)

    @post(
        "/tasks/{task_id:uuid}/resolve",
        summary="Resolve a task you hold with an outcome and a root cause",
        description="With `follow_up`, the customer gets a closing message by email or SMS (the outcome's "
        "template in their locale, or your own words), stored on the task and sent by the background "
        "worker once; opt-outs and erasure are respected. After `recovered` and `not_recovered` a pulse "
        "survey is scheduled FEEDBACK_RECOVERY_PULSE_DAYS later (`pulse_due_at`).",
        dto=StrictBody[Resolve],
        return_dto=None,
        status_code=200,
        responses=LEASED_ERRORS,
    )
    async def resolve(
        self,
        request: AgentRequest,
        pool: NamedDependency[asyncpg.Pool],
        task_id: FromPath[UUID],
        data: JSONBody[Resolve],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Task]:
        actor = _actor(request, data.agent)

        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            changed = await service.resolve(
                conn,
                task_id,
                token=data.lease_token,
                outcome=data.outcome,
                root_cause=data.root_cause,
                note=data.note,
                actor=actor,
                settings=request.app.state.settings,
                follow_up=data.follow_up,
            )
            return 200, _encoder.encode(changed)

        return await respond_idempotently(request, pool, idempotency_key, work)

    @post(
        "/tasks/{task_id:uuid}/reopen",
        summary="Reopen a resolved task (a fresh deadline; the old outcome stays in history)",
        description="A task of an erased customer cannot be reopened (410).",
        dto=StrictBody[Reopen],
        return_dto=None,
        status_code=200,
        responses=problem_responses(400, 401, 403, 404, 409, 410, 413, 422),
    )
    async def reopen(
        self,
        request: AgentRequest,
        pool: NamedDependency[asyncpg.Pool],
        task_id: FromPath[UUID],
        data: JSONBody[Reopen],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Task]:
        actor = _actor(request, data.agent)

        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            changed = await service.reopen(conn, task_id, reason=data.reason, actor=actor)
            return 200, _encoder.encode(changed)

        return await respond_idempotently(request, pool, idempotency_key, work)

    @get("/rules", summary="The trigger rules: urgency and deadlines", responses=READ_ERRORS)
    async def list_rules(self, pool: NamedDependency[asyncpg.Pool]) -> list[Rule]:
        return await service.list_rules(pool)

    @put(
        "/rules/{trigger:str}",
        summary="Change a trigger rule (admin)",
        opt=requires_scope("admin"),
        dto=StrictBody[RuleUpdate],
        return_dto=None,
        responses=LEASED_ERRORS,
    )
    async def update_rule(
        self,
        request: AgentRequest,
        pool: NamedDependency[asyncpg.Pool],
        trigger: FromPath[Trigger],
        data: JSONBody[RuleUpdate],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Rule]:
        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            return 200, _encoder.encode(await service.update_rule(conn, trigger, data))

        return await respond_idempotently(request, pool, idempotency_key, work)

    @get(
        "/effectiveness",
        summary="Outcomes, later churn/renewal, score change per trigger, agent, root cause, control group",
        description="Rates at 30 and 90 days count only tasks resolved at least that long ago "
        "(control tasks from when they opened). `since`/`until` bound the resolution time. "
        "`score_change` compares the triggering answer with the customer's next answer of the same "
        "survey within `after_days` of the resolution (the pulse survey, or an earlier answer), with 95% "
        "intervals, against the control group.",
        responses=READ_ERRORS,
    )
    async def effectiveness(
        self,
        pool: NamedDependency[asyncpg.Pool],
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        after_days: Annotated[
            int, QueryParameter(ge=1, le=365, description="How long after resolution a later answer counts.")
        ] = DEFAULT_AFTER_DAYS,
    ) -> Effectiveness:
        return await service.effectiveness(pool, since=since, until=until, after_days=after_days)
