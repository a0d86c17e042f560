"""HTTP for the CRM's survey endpoints; the rules live in service.py."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from feedback_svc.apikeys.service import Principal
from feedback_svc.lib.auth import requires_scope
from feedback_svc.lib.body import StrictBody
from feedback_svc.lib.bounds import check_instant
from feedback_svc.lib.idempotency import IdempotencyKey, KeyToClaim, respond_idempotently
from feedback_svc.lib.openapi import BEARER, problem_responses
from feedback_svc.metrics.collector import count_answer
from feedback_svc.surveys import reading, service, touchpoints
from feedback_svc.surveys.answer_batches import AnswerLanes
from feedback_svc.surveys.reminders import default_rule
from feedback_svc.surveys.schemas import (
    KEY_PATTERN,
    Channel,
    InteractionCreate,
    InteractionRecorded,
    Invitation,
    InvitationCreate,
    InvitationPage,
    InvitationRecord,
    InvitationStatus,
    ResponseCreate,
    SurveyResponse,
    Touchpoint,
    TouchpointUpdate,
)

_encoder = msgspec.json.Encoder()
MUTATION_ERRORS = problem_responses(400, 401, 403, 404, 409, 410, 413, 422)


class SurveysController(Controller):
    path = "/v1"
    tags = ["surveys"]
    opt = requires_scope("crm")
    security = BEARER

    @post(
        "/interactions",
        summary="Record an interaction; invites per the touchpoint's rule",
        description="The answer says whether an invitation was queued, scheduled or suppressed, and why. "
        "Resending an interaction with the same external_id returns the first result.",
        dto=StrictBody[InteractionCreate],
        return_dto=None,
        status_code=201,
        responses=MUTATION_ERRORS,
    )
    async def record_interaction(
        self,
        request: Request[Principal, Principal, State],
        pool: NamedDependency[asyncpg.Pool],
        data: JSONBody[InteractionCreate],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[InteractionRecorded]:
        settings = request.app.state.settings

        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            recorded = await service.record_interaction(
                conn, data, base_url=settings.base_url, secret_key=settings.secret_key
            )
            return (200 if recorded.replayed else 201), _encoder.encode(recorded)

        return await respond_idempotently(request, pool, idempotency_key, work)

    @post(
        "/invitations",
        summary="Invite a customer to a survey directly",
        description="Contact rules apply (cooldown, opt-outs, SMS quiet hours); the answer gives the "
        "decision and its reason. For channel=web the survey link is returned once, in `survey_url`.",
        dto=StrictBody[InvitationCreate],
        return_dto=None,
        status_code=201,
        responses=MUTATION_ERRORS,
    )
    async def create_invitation(
        self,
        request: Request[Principal, Principal, State],
        pool: NamedDependency[asyncpg.Pool],
        data: JSONBody[InvitationCreate],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Invitation]:
        settings = request.app.state.settings

        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            return 201, _encoder.encode(
                await service.create_invitation(
                    conn, data, base_url=settings.base_url, secret_key=settings.secret_key
                )
            )

        return await respond_idempotently(request, pool, idempotency_key, work)

    @get(
        "/invitations",
        summary="List invitations, newest first",
        description="Narrow by customer (our id or the CRM's), status, channel, survey and creation "
        "time. Each item carries its history. Pages go back in time: pass `next_cursor` as `cursor`. "
        "Erased customers' invitations are not listed; asked for by customer, they answer 410.",
        responses=problem_responses(401, 403, 404, 410, 422),
    )
    async def list_invitations(
        self,
        *,
        pool: NamedDependency[asyncpg.Pool],
        customer_id: FromQuery[UUID | None] = None,
        customer_external_id: Annotated[str | None, QueryParameter(min_length=1, max_length=200)] = None,
        status: FromQuery[InvitationStatus | None] = None,
        channel: FromQuery[Channel | None] = None,
        survey: Annotated[str | None, QueryParameter(min_length=1, max_length=64)] = None,
        created_after: Annotated[
            datetime | None, QueryParameter(description="Created at or after this instant.")
        ] = None,
        created_before: Annotated[
            datetime | None, QueryParameter(description="Created before this instant.")
        ] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=200, description="From next_cursor.")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> InvitationPage:
        filters = reading.Filters(
            customer_id=customer_id,
            customer_external_id=customer_external_id,
            status=status,
            channel=channel,
            survey=survey,
            created_after=check_instant(created_after, field="created_after"),
            created_before=check_instant(created_before, field="created_before"),
        )
        return await reading.list_invitations(pool, filters, cursor=cursor, limit=limit)

    @get(
        "/invitations/{invitation_id:uuid}",
        summary="Read an invitation: its status, why, and its history",
        description="Sent, opened, answered or failed, with the reason of each step. An erased "
        "customer's invitation answers 410.",
        responses=problem_responses(401, 403, 404, 410),
    )
    async def get_invitation(
        self, pool: NamedDependency[asyncpg.Pool], invitation_id: FromPath[UUID]
    ) -> InvitationRecord:
        return await reading.get_invitation(pool, invitation_id)

    @post(
        "/responses",
        summary="Record an answer collected elsewhere (in-app)",
        dto=StrictBody[ResponseCreate],
        return_dto=None,
        status_code=201,
        responses=MUTATION_ERRORS,
    )
    async def record_response(
        self,
        request: Request[Principal, Principal, State],
        data: JSONBody[ResponseCreate],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[SurveyResponse]:
        # the pool from the app's state, not injected: Litestar's dependency injection costs
        # about 65,000 instructions a request, 12 % of this one in process (callgrind)
        pool: asyncpg.Pool = request.app.state.pool
        stored: list[str] = []  # the answer's kind, once written

        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            answer = await service.record_api_response(conn, data)
            stored.append(answer.kind)
            return 201, _encoder.encode(answer)

        async def at_once(claim: KeyToClaim) -> tuple[int, bytes] | None:
            # concurrent answers share a statement and a commit (surveys/answer_batches.py)
            lanes: AnswerLanes = request.app.state.answer_lanes
            answer = await lanes.record_api_response(data, claim, now=service.now_utc())
            if answer is None:
                return None
            stored.append(answer.kind)
            return answer.status, answer.body

        result = await respond_idempotently(request, pool, idempotency_key, work, at_once=at_once)
        if stored:  # committed now; a replay ran no work and counts nothing
            count_answer(channel="api", kind=stored[-1])
        return result


TouchpointKey = Annotated[
    str, PathParameter(pattern=KEY_PATTERN, description="Lower-case slug, e.g. support_call.")
]


class TouchpointsController(Controller):
    path = "/v1/touchpoints"
    tags = ["surveys"]
    opt = requires_scope("crm")
    security = BEARER

    @get(
        "/",
        summary="The touchpoint rules: survey, delay and reminders",
        description="An interaction at a touchpoint without a rule gets the default survey (nps) an "
        "hour later; reminders left null follow the service's default, shown filled in under `reminders`.",
        responses=problem_responses(401, 403),
    )
    async def list_touchpoints(
        self, request: Request[Principal, Principal, State], pool: NamedDependency[asyncpg.Pool]
    ) -> list[Touchpoint]:
        return await touchpoints.list_touchpoints(pool, default=default_rule(request.app.state.settings))

    @put(
        "/{key:str}",
        summary="Set a touchpoint's rule (admin)",
        description="Replaces the whole rule; a new key creates the touchpoint (201). `reminder_count` 0 "
        "turns reminders off (also those already planned and not yet sent); null follows "
        "FEEDBACK_REMINDER_COUNT. A changed delay applies to reminders planned from now on. "
        "`display_names` fill {touchpoint} in the customer's language (else `name`). The survey must "
        "be active (422); a retired touchpoint answers 409.",
        opt=requires_scope("admin"),
        status_code=HTTP_200_OK,
        dto=StrictBody[TouchpointUpdate],
        return_dto=None,
        responses={
            HTTP_201_CREATED: ResponseSpec(data_container=Touchpoint, description="Touchpoint created"),
            **problem_responses(400, 401, 403, 409, 413, 422),
        },
    )
    async def put_touchpoint(
        self,
        request: Request[Principal, Principal, State],
        pool: NamedDependency[asyncpg.Pool],
        key: TouchpointKey,
        data: JSONBody[TouchpointUpdate],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Touchpoint]:
        default = default_rule(request.app.state.settings)

        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            rule, created = await touchpoints.put_touchpoint(conn, key, data, default=default)
            return (HTTP_201_CREATED if created else HTTP_200_OK), _encoder.encode(rule)

        return await respond_idempotently(request, pool, idempotency_key, work)

    @post(
        "/{key:str}/retire",
        summary="Retire a touchpoint (admin): its interactions get no survey",
        description="Interactions at it are still recorded, each with `no_survey_reason`. Retiring "
        "again changes nothing.",
        opt=requires_scope("admin"),
        status_code=HTTP_200_OK,
        responses=problem_responses(401, 403, 404, 409, 422),
    )
    async def retire_touchpoint(
        self,
        request: Request[Principal, Principal, State],
        pool: NamedDependency[asyncpg.Pool],
        key: TouchpointKey,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Touchpoint]:
        default = default_rule(request.app.state.settings)

        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            return HTTP_200_OK, _encoder.encode(
                await touchpoints.retire_touchpoint(conn, key, default=default)
            )

        return await respond_idempotently(request, pool, idempotency_key, work)
