"""The managers' theme pages: every theme with its share and impact, one theme with what customers
said, and the forms to rename and merge (CSRF-checked like every console form)."""

from datetime import UTC, datetime
from typing import Any

import asyncpg
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery

from feedback_svc.console.guard import console_user, requires_role
from feedback_svc.console.respond import CONSOLE_EXCEPTION_HANDLERS, html, pages, redirect
from feedback_svc.lib.auth import PUBLIC
from feedback_svc.lib.errors import AppError, NotFound
from feedback_svc.lib.request_context import request_id_of
from feedback_svc.themes import report, service
from feedback_svc.themes.schemas import ThemeImpact
from feedback_svc.users.schemas import SessionUser

MESSAGES = {
    "renamed": "Renamed. Later runs keep this label.",
    "merged": "Merged: this theme holds the other one's comments now, and will hold those later runs find.",
}


def _int(raw: object) -> int | None:
    try:
        return int(str(raw).strip())
    except ValueError:
        return None


class ThemePagesController(Controller):
    path = "/console/themes"
    opt = {PUBLIC: True}
    include_in_schema = False
    guards = [requires_role("manager")]
    exception_handlers = CONSOLE_EXCEPTION_HANDLERS
    dependencies = {"user": Provide(console_user, sync_to_thread=False)}

    @get("/")
    async def list_themes(
        self,
        request: Request[Any, Any, Any],
        *,
        pool: NamedDependency[asyncpg.Pool],
        user: NamedDependency[SessionUser],
        locale: FromQuery[str | None] = None,
    ) -> Response[str]:
        locale = (locale or "").strip() or None
        today = datetime.now(UTC).date()
        themes = await service.list_themes(pool, locale=locale, include_merged=False)
        analysed = await report.themes_report(pool, date_from=None, date_to=None, locale=locale, today=today)
        impact = {item.theme_id: item for item in analysed.themes}
        runs = await service.list_runs(pool, limit=1)
        locales = sorted({theme.locale for theme in themes.items} | ({locale} if locale else set()))
        body = pages(request).render(
            "themes.html",
            user=user,
            current="/console/themes",
            themes=themes.items,
            impact=impact,
            report=analysed,
            locale=locale,
            locales=locales,
            last_run=runs.items[0] if runs.items else None,
        )
        return html(body)

    @get("/{theme_id:int}")
    async def show_theme(
        self,
        request: Request[Any, Any, Any],
        *,
        pool: NamedDependency[asyncpg.Pool],
        user: NamedDependency[SessionUser],
        theme_id: FromPath[int],
        done: FromQuery[str | None] = None,
    ) -> Response[str]:
        return await self._page(request, pool, user, theme_id, message=MESSAGES.get(done or "", ""))

    @post("/{theme_id:int}/rename", status_code=200)
    async def rename(
        self,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        user: NamedDependency[SessionUser],
        theme_id: FromPath[int],
    ) -> Response[Any]:
        label = " ".join(str((await request.form()).get("label") or "").split())
        if not label or len(label) > 120:
            return await self._page(
                request, pool, user, theme_id, errors=["A label is 1 to 120 characters."], status=422
            )
        try:
            async with pool.acquire() as conn:
                await service.rename_theme(
                    conn,
                    theme_id,
                    label=label,
                    actor=user.email,
                    actor_type="user",
                    actor_id=str(user.user_id),
                    request_id=request_id_of(request.scope),
                )
        except NotFound:
            return await self._page(request, pool, user, theme_id)  # its "no such theme" page
        return redirect(f"/console/themes/{theme_id}?done=renamed")

    @post("/{theme_id:int}/merge", status_code=200)
    async def merge(
        self,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        user: NamedDependency[SessionUser],
        theme_id: FromPath[int],
    ) -> Response[Any]:
        into = _int((await request.form()).get("into"))
        if into is None:
            return await self._page(
                request, pool, user, theme_id, errors=["Choose a theme to merge into."], status=422
            )
        try:
            async with pool.acquire() as conn:
                kept = await service.merge_theme(
                    conn,
                    theme_id,
                    into=into,
                    actor=user.email,
                    actor_type="user",
                    actor_id=str(user.user_id),
                    request_id=request_id_of(request.scope),
                )
        except NotFound:
            return await self._page(request, pool, user, theme_id)
        except AppError as error:
            return await self._page(request, pool, user, theme_id, errors=[error.detail], status=422)
        return redirect(f"/console/themes/{kept.id}?done=merged")

    async def _page(
        self,
        request: Request[Any, Any, Any],
        pool: asyncpg.Pool,
        user: SessionUser,
        theme_id: FromPath[int],
        *,
        message: str = "",
        errors: list[str] | None = None,
        status: int = 200,
    ) -> Response[str]:
        try:
            detail = await service.get_theme(pool, theme_id)
        except NotFound as error:
            body = pages(request).render(
                "notice.html",
                user=user,
                heading="No such theme",
                message=error.detail,
                link_href="/console/themes",
                link_label="All themes",
            )
            return html(body, status=404)
        analysed = await report.themes_report(
            pool, date_from=None, date_to=None, locale=None, today=datetime.now(UTC).date()
        )
        impact: ThemeImpact | None = next((t for t in analysed.themes if t.theme_id == theme_id), None)
        others = [
            t
            for t in (await service.list_themes(pool, locale=None, include_merged=False)).items
            if t.id != theme_id
        ]
        body = pages(request).render(
            "theme.html",
            user=user,
            current="/console/themes",
            theme=detail.theme,
            examples=detail.examples,
            impact=impact,
            others=others,
            method=analysed.method,
            message=message,
            errors=errors or [],
        )
        return html(body, status=status)
