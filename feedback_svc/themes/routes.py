"""HTTP for comment themes: read them (crm), run, rename and merge them (admin), and their analytics."""

import re
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from feedback_svc.analytics.routes import DateFrom, DateTo
from feedback_svc.apikeys.service import Principal
from feedback_svc.lib.auth import requires_scope
from feedback_svc.lib.body import StrictBody
from feedback_svc.lib.errors import InvalidInput
from feedback_svc.lib.idempotency import IdempotencyKey, respond_idempotently
from feedback_svc.lib.openapi import BEARER, problem_responses
from feedback_svc.lib.request_context import request_id_of
from feedback_svc.themes import report, service
from feedback_svc.themes.schemas import (
    Theme,
    ThemeDetail,
    ThemeList,
    ThemeMerge,
    ThemeRename,
    ThemeRun,
    ThemeRunList,
    ThemesReport,
)

_encoder = msgspec.json.Encoder()
ApiRequest = Request[Principal, Principal, State]
Locale = Annotated[
    str | None,
    QueryParameter(
        description="Only themes of this language: 2-3 lower-case letters (`de`, `fr`, ...; `und`: unknown).",
        min_length=2,
        max_length=3,
    ),
]


def checked_locale(locale: str | None) -> str | None:
    """Checked here with fullmatch: a query pattern runs with re.search, where `$` lets "en\n" by."""
    if locale is not None and not re.fullmatch(r"[a-z]{2,3}", locale):
        raise InvalidInput(
            "locale is 2-3 lower-case letters, such as de or fr (und: unknown).",
            errors=[{"field": "locale", "message": "2-3 lower-case letters", "source": "query"}],
        )
    return locale


WRITE_ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 422)


class ThemesController(Controller):
    path = "/v1/themes"
    tags = ["themes"]
    opt = requires_scope("crm")
    security = BEARER

    @get(
        "/",
        summary="Comment themes with their top words",
        description='Found per language in the customers\' "why" comments. Merged themes are left out '
        "unless `include_merged=true`.",
        responses=problem_responses(401, 403, 422),
    )
    async def list_themes(
        self,
        pool: NamedDependency[asyncpg.Pool],
        locale: Locale = None,
        include_merged: FromQuery[bool] = False,
    ) -> ThemeList:
        return await service.list_themes(pool, locale=checked_locale(locale), include_merged=include_merged)

    @get(
        "/{theme_id:int}",
        summary="One theme with example comments (most typical first)",
        description="Examples are quoted from the answers: an erased customer's comment is never shown.",
        responses=problem_responses(401, 403, 404, 422),
    )
    async def get_theme(self, pool: NamedDependency[asyncpg.Pool], theme_id: FromPath[int]) -> ThemeDetail:
        return await service.get_theme(pool, theme_id)

    @patch(
        "/{theme_id:int}",
        summary="Rename a theme (admin); later runs keep the new label",
        dto=StrictBody[ThemeRename],
        return_dto=None,
        opt=requires_scope("admin"),
        responses=WRITE_ERRORS,
    )
    async def rename_theme(
        self,
        request: ApiRequest,
        pool: NamedDependency[asyncpg.Pool],
        theme_id: FromPath[int],
        data: JSONBody[ThemeRename],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Theme]:
        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            theme = await service.rename_theme(
                conn,
                theme_id,
                label=data.label,
                actor=request.user.name,
                actor_type="api_key",
                actor_id=str(request.user.key_id),
                request_id=request_id_of(request.scope),
            )
            return 200, _encoder.encode(theme)

        return await respond_idempotently(request, pool, idempotency_key, work)

    @post(
        "/{theme_id:int}/merge",
        summary="Merge a theme into another (admin)",
        description="The theme's comments move to `into`, and so do comments that later runs find "
        "on its topic. Answers with the theme that holds them now.",
        dto=StrictBody[ThemeMerge],
        return_dto=None,
        status_code=200,
        opt=requires_scope("admin"),
        responses=WRITE_ERRORS,
    )
    async def merge_theme(
        self,
        request: ApiRequest,
        pool: NamedDependency[asyncpg.Pool],
        theme_id: FromPath[int],
        data: JSONBody[ThemeMerge],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Theme]:
        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            theme = await service.merge_theme(
                conn,
                theme_id,
                into=data.into,
                actor=request.user.name,
                actor_type="api_key",
                actor_id=str(request.user.key_id),
                request_id=request_id_of(request.scope),
            )
            return 200, _encoder.encode(theme)

        return await respond_idempotently(request, pool, idempotency_key, work)

    @post(
        "/runs",
        summary="Find themes again now, in the background (admin; one run at a time)",
        description="Answers 202 with the new run; follow it at the Location header. While a run is "
        "queued or running, nothing new starts and the answer is 200 with that run.",
        status_code=202,
        opt=requires_scope("admin"),
        responses={
            200: ResponseSpec(data_container=ThemeRun, description="A run was queued or running already"),
            **problem_responses(401, 403, 409, 422),
        },
    )
    async def request_run(
        self, request: ApiRequest, pool: NamedDependency[asyncpg.Pool], idempotency_key: IdempotencyKey = None
    ) -> Response[ThemeRun]:
        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            run, started = await service.request_run(conn, actor=request.user.name)
            return 202 if started else 200, _encoder.encode(run)

        response = await respond_idempotently(request, pool, idempotency_key, work)
        run = msgspec.json.decode(response.content, type=ThemeRun)
        response.headers["Location"] = f"/v1/themes/runs/{run.id}"
        return response

    @get("/runs", summary="The latest theme runs, newest first", responses=problem_responses(401, 403))
    async def list_runs(self, pool: NamedDependency[asyncpg.Pool]) -> ThemeRunList:
        return await service.list_runs(pool)

    @get("/runs/{run_id:uuid}", summary="One theme run", responses=problem_responses(401, 403, 404))
    async def get_run(self, pool: NamedDependency[asyncpg.Pool], run_id: FromPath[UUID]) -> ThemeRun:
        return await service.get_run(pool, run_id)


class ThemeAnalyticsController(Controller):
    path = "/v1/analytics/themes"
    tags = ["analytics"]
    opt = requires_scope("crm")
    security = BEARER

    @get(
        "/",
        summary="Each theme's share, NPS and CSAT impact, churn risk ratio and monthly trend, with intervals",
        description=report.METHOD,
        responses=problem_responses(401, 403, 422),
    )
    async def themes(
        self,
        pool: NamedDependency[asyncpg.Pool],
        date_from: DateFrom = None,
        date_to: DateTo = None,
        locale: Locale = None,
    ) -> ThemesReport:
        return await report.themes_report(
            pool,
            date_from=date_from,
            date_to=date_to,
            locale=checked_locale(locale),
            today=datetime.now(UTC).date(),
        )
