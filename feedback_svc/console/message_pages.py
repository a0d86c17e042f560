"""Managers word the closing messages: one template per outcome and locale, checked when saved."""

from typing import Any

import asyncpg
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery

from feedback_svc.console.guard import console_user, requires_role
from feedback_svc.console.respond import CONSOLE_EXCEPTION_HANDLERS, html, pages, redirect
from feedback_svc.console.story import OUTCOME_LABELS
from feedback_svc.lib.auth import PUBLIC
from feedback_svc.lib.errors import Conflict, InvalidInput, NotFound
from feedback_svc.lib.request_context import request_id_of
from feedback_svc.recovery import messages
from feedback_svc.recovery.schemas import MessageTemplateUpdate
from feedback_svc.users.queries import insert_audit
from feedback_svc.users.schemas import SessionUser

FIELDS = tuple(messages.FIELD_LIMITS)
FIELD_LABELS = {"subject": "Email subject", "greeting": "Email greeting", "body": "Email text", "sms": "SMS"}
DONE = {
    "saved": "The template was saved. Messages from now on use it.",
    "deleted": "The template was removed; customers of that language now get the next one in their chain.",
}


class MessagePagesController(Controller):
    path = "/console/messages"
    opt = {PUBLIC: True}
    include_in_schema = False
    guards = [requires_role("manager")]
    exception_handlers = CONSOLE_EXCEPTION_HANDLERS
    dependencies = {"user": Provide(console_user, sync_to_thread=False)}

    async def _page(
        self,
        request: Request[Any, Any, Any],
        pool: asyncpg.Pool,
        user: SessionUser,
        *,
        locale: str,
        message: str = "",
        errors: dict[str, list[str]] | None = None,
        values: dict[str, dict[str, str]] | None = None,
        status: int = 200,
    ) -> Response[str]:
        templates = await messages.list_templates(pool)
        locales = sorted(
            {t.locale for t in templates}, key=lambda code: (code != messages.FALLBACK_LOCALE, code)
        )
        shown = {t.outcome: t for t in templates if t.locale == locale}
        english = {t.outcome: t for t in templates if t.locale == messages.FALLBACK_LOCALE}
        forms = []
        for outcome, label in OUTCOME_LABELS.items():
            current = shown.get(outcome) or english.get(outcome)
            typed = (values or {}).get(outcome)
            forms.append(
                {
                    "outcome": outcome,
                    "label": label,
                    "exists": outcome in shown,
                    "values": typed
                    or {field: getattr(current, field) if current else "" for field in FIELDS},
                    "updated": f"{shown[outcome].updated_by or 'the migration'}"
                    if outcome in shown
                    else None,
                    "errors": (errors or {}).get(outcome, []),
                }
            )
        body = pages(request).render(
            "messages.html",
            user=user,
            current="/console/messages",
            locale=locale,
            locales=locales,
            forms=forms,
            message=message,
            refused=status != 200,
            limits=messages.FIELD_LIMITS,
            fallback=messages.FALLBACK_LOCALE,
        )
        return html(body, status=status)

    @get("/")
    async def show(
        self,
        request: Request[Any, Any, Any],
        *,
        pool: NamedDependency[asyncpg.Pool],
        user: NamedDependency[SessionUser],
        locale: FromQuery[str | None] = None,
        done: FromQuery[str | None] = None,
    ) -> Response[str]:
        try:
            chosen = messages.checked_locale(locale or messages.FALLBACK_LOCALE)
        except InvalidInput as invalid:
            return await self._page(
                request, pool, user, locale=messages.FALLBACK_LOCALE, message=invalid.detail, status=422
            )
        return await self._page(request, pool, user, locale=chosen, message=DONE.get(done or "", ""))

    @post("/{outcome:str}/{locale:str}", status_code=200)
    async def save(
        self,
        request: Request[Any, Any, Any],
        *,
        pool: NamedDependency[asyncpg.Pool],
        user: NamedDependency[SessionUser],
        outcome: FromPath[str],
        locale: FromPath[str],
    ) -> Response[Any]:
        if outcome not in OUTCOME_LABELS:
            raise NotFound(f"No outcome {outcome!r}.")
        form = await request.form()
        typed = {field: str(form.get(field) or "") for field in FIELDS}
        try:
            async with pool.acquire() as conn, conn.transaction():
                template, _ = await messages.save_template(
                    conn,
                    outcome=outcome,
                    locale=locale,
                    data=MessageTemplateUpdate(**typed),
                    updated_by=user.email,
                )
                await _audit(conn, request, user, "saved", f"{template.outcome}/{template.locale}")
        except InvalidInput as invalid:
            problems = [
                f"{FIELD_LABELS.get(p['field'], p['field'])}: {p['message']}." for p in invalid.errors or []
            ]
            return await self._page(
                request,
                pool,
                user,
                locale=messages.normalise_locale(locale),
                errors={outcome: problems or [invalid.detail]},
                values={outcome: typed},
                status=422,
            )
        return redirect(f"/console/messages?locale={template.locale}&done=saved")

    @post("/{outcome:str}/{locale:str}/delete", status_code=200)
    async def delete(
        self,
        request: Request[Any, Any, Any],
        *,
        pool: NamedDependency[asyncpg.Pool],
        user: NamedDependency[SessionUser],
        outcome: FromPath[str],
        locale: FromPath[str],
    ) -> Response[Any]:
        if outcome not in OUTCOME_LABELS:
            raise NotFound(f"No outcome {outcome!r}.")
        try:
            async with pool.acquire() as conn, conn.transaction():
                await messages.delete_template(conn, outcome=outcome, locale=locale)
                await _audit(conn, request, user, "deleted", f"{outcome}/{messages.normalise_locale(locale)}")
        except (Conflict, NotFound, InvalidInput) as refused:
            return await self._page(
                request,
                pool,
                user,
                locale=messages.normalise_locale(locale),
                message=refused.detail,
                status=409,
            )
        return redirect(f"/console/messages?locale={messages.normalise_locale(locale)}&done=deleted")


async def _audit(
    conn: asyncpg.Connection, request: Request[Any, Any, Any], user: SessionUser, done: str, target: str
) -> None:
    """Console changes are audited by the console (the API's by its middleware)."""
    await insert_audit(
        conn,
        user_id=user.user_id,
        action=f"message_template.{done}",
        target_type="message_template",
        target_id=target,
        request_id=request_id_of(request.scope),
    )
