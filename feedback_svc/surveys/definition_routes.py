"""HTTP for survey definitions: admins create, reword and retire them; the CRM reads them and their
versions, and previews them. The rules live in definitions.py and preview.py."""

from typing import Annotated

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, PathParameter, QueryParameter

from feedback_svc.apikeys.service import Principal
from feedback_svc.lib.auth import requires_scope
from feedback_svc.lib.body import StrictBody
from feedback_svc.lib.idempotency import IdempotencyKey, respond_idempotently
from feedback_svc.lib.openapi import BEARER, problem_responses
from feedback_svc.surveys import definitions
from feedback_svc.surveys.preview import PreviewChannel, preview_survey
from feedback_svc.surveys.schemas import (
    KEY_PATTERN,
    PLACEHOLDER_NOTE,
    Survey,
    SurveyCreate,
    SurveyPreview,
    SurveyUpdate,
    SurveyVersion,
)

AdminRequest = Request[Principal, Principal, State]
WRITE_ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 422)
# 422: a key or version number outside its pattern or range
READ_ERRORS = problem_responses(401, 403, 404, 422)
SurveyKey = Annotated[str, PathParameter(pattern=KEY_PATTERN, description="The survey's key, e.g. nps.")]
VersionNumber = Annotated[int, PathParameter(ge=1, le=2_000_000_000)]

_encoder = msgspec.json.Encoder()


def _actor(request: AdminRequest) -> str:
    return f"{request.user.name} (API key)"


class SurveyDefinitionsController(Controller):
    path = "/v1/surveys"
    tags = ["surveys"]
    opt = requires_scope("crm")
    security = BEARER

    @get("/", summary="List survey definitions", responses=problem_responses(401, 403))
    async def list_surveys(self, pool: NamedDependency[asyncpg.Pool]) -> list[Survey]:
        return await definitions.list_surveys(pool)

    @post(
        "/",
        summary="Create a survey (admin)",
        description="Kind (and so the scale) is fixed once created. Texts per locale are checked now: "
        + PLACEHOLDER_NOTE
        + " Each problem is named in `errors` with its JSON `pointer` (/texts/de/question).",
        opt=requires_scope("admin"),
        dto=StrictBody[SurveyCreate],
        return_dto=None,
        status_code=201,
        responses=WRITE_ERRORS,
    )
    async def create_survey(
        self,
        request: AdminRequest,
        pool: NamedDependency[asyncpg.Pool],
        data: JSONBody[SurveyCreate],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Survey]:
        brand = request.app.state.settings.brand_name

        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            survey = await definitions.create_survey(conn, data, brand=brand, actor=_actor(request))
            return 201, _encoder.encode(survey)

        return await respond_idempotently(request, pool, idempotency_key, work)

    @get("/{key:str}", summary="Read a survey as it stands", responses=READ_ERRORS)
    async def get_survey(self, pool: NamedDependency[asyncpg.Pool], key: SurveyKey) -> Survey:
        return await definitions.get_survey(pool, key)

    @patch(
        "/{key:str}",
        summary="Reword a survey (a new version) or change its settings (admin)",
        description="`texts`, when given, are the new version's in full; invitations already made keep "
        "the version they were made with, and so do their answers. A retired survey answers 409. "
        + PLACEHOLDER_NOTE,
        opt=requires_scope("admin"),
        dto=StrictBody[SurveyUpdate],
        return_dto=None,
        responses=WRITE_ERRORS,
    )
    async def update_survey(
        self,
        request: AdminRequest,
        pool: NamedDependency[asyncpg.Pool],
        key: SurveyKey,
        data: JSONBody[SurveyUpdate],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Survey]:
        brand = request.app.state.settings.brand_name

        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            survey = await definitions.update_survey(conn, key, data, brand=brand, actor=_actor(request))
            return 200, _encoder.encode(survey)

        return await respond_idempotently(request, pool, idempotency_key, work)

    @post(
        "/{key:str}/retire",
        summary="Retire a survey (admin): no new invitations",
        description="Answers and open survey links stay; invitations not yet sent are suppressed and "
        "reminders skipped. 409 while a touchpoint rule still sends it. Retiring again changes nothing.",
        opt=requires_scope("admin"),
        status_code=200,
        responses=problem_responses(401, 403, 404, 409, 422),
    )
    async def retire_survey(
        self,
        request: AdminRequest,
        pool: NamedDependency[asyncpg.Pool],
        key: SurveyKey,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Survey]:
        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            return 200, _encoder.encode(await definitions.retire_survey(conn, key))

        return await respond_idempotently(request, pool, idempotency_key, work)

    @get(
        "/{key:str}/versions",
        summary="A survey's versions, newest first",
        responses=READ_ERRORS,
    )
    async def list_versions(self, pool: NamedDependency[asyncpg.Pool], key: SurveyKey) -> list[SurveyVersion]:
        return await definitions.list_versions(pool, key)

    @get(
        "/{key:str}/versions/{version:int}",
        summary="One version of a survey: the texts its invitations and answers were made with",
        responses=READ_ERRORS,
    )
    async def get_version(
        self, pool: NamedDependency[asyncpg.Pool], key: SurveyKey, version: VersionNumber
    ) -> SurveyVersion:
        return await definitions.get_version(pool, key, version)

    @get(
        "/{key:str}/preview",
        summary="The survey as a customer would get it: page, email and SMS",
        description="Rendered by the same code as real sends; nothing is sent or stored. `channel` "
        "narrows it to one; `version` shows an older one; `touchpoint` fills {touchpoint} with that "
        "touchpoint's name in the locale.",
        responses=problem_responses(401, 403, 404, 422),
    )
    async def preview(
        self,
        *,
        request: AdminRequest,
        pool: NamedDependency[asyncpg.Pool],
        key: SurveyKey,
        locale: Annotated[str, QueryParameter(max_length=35, description="e.g. en, de, pt-BR.")] = "en",
        channel: FromQuery[PreviewChannel | None] = None,
        version: Annotated[int | None, QueryParameter(ge=1, le=2_000_000_000)] = None,
        touchpoint: Annotated[str | None, QueryParameter(pattern=KEY_PATTERN)] = None,
    ) -> SurveyPreview:
        return await preview_survey(
            pool,
            key,
            locale=locale,
            channel=channel,
            version=version,
            touchpoint=touchpoint,
            settings=request.app.state.settings,
            pages=request.app.state.survey_pages,
        )
