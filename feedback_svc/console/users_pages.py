"""Managers create, disable, enable and unlock console accounts."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery

from feedback_svc.console.guard import console_user, requires_role
from feedback_svc.console.respond import CONSOLE_EXCEPTION_HANDLERS, html, pages, redirect
from feedback_svc.lib.auth import PUBLIC
from feedback_svc.lib.errors import Conflict, InvalidInput
from feedback_svc.lib.localtime import UTC_NAME, local_text, time_zone_names
from feedback_svc.lib.request_context import request_id_of
from feedback_svc.users import queries, service
from feedback_svc.users.schemas import SessionUser, User

MESSAGES = {
    "created": "The account was created.",
    "disabled": "The account was disabled and its sessions ended.",
    "enabled": "The account was enabled.",
    "unlocked": "The account was unlocked.",
    "password": "The new password is set; the person was signed out everywhere. Hand it over in person.",
}


def _person(user: User, now: datetime, *, zone: str) -> dict[str, Any]:
    locked = user.is_locked(now)
    return {
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "role": user.role,
        "time_zone": user.time_zone,
        "disabled_at": user.disabled_at,
        "locked": locked,
        "locked_until_text": local_text(user.locked_until, zone) if locked and user.locked_until else "",
    }


class UsersPagesController(Controller):
    path = "/console/users"
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
        message: str = "",
        errors: list[str] | None = None,
        form: dict[str, str] | None = None,
        password_problem: tuple[UUID, str] | None = None,
        status: int = 200,
    ) -> Response[str]:
        now = datetime.now(UTC)
        people = [_person(person, now, zone=user.time_zone) for person in await queries.list_users(pool)]
        body = pages(request).render(
            "users.html",
            user=user,
            current="/console/users",
            people=people,
            message=message,
            errors=errors or [],
            password_for=password_problem[0] if password_problem else None,
            password_error=password_problem[1] if password_problem else "",
            form=form or {"name": "", "email": "", "role": "agent", "time_zone": user.time_zone},
            zones=time_zone_names(),
        )
        return html(body, status=status)

    @get("/")
    async def list_users(
        self,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        user: NamedDependency[SessionUser],
        done: FromQuery[str | None] = None,
    ) -> Response[str]:
        return await self._page(request, pool, user, message=MESSAGES.get(done or "", ""))

    @post("/", status_code=200)
    async def create_user(
        self,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        user: NamedDependency[SessionUser],
    ) -> Response[Any]:
        form = await request.form()
        values = {key: str(form.get(key) or "") for key in ("name", "email", "role", "time_zone")}
        values["time_zone"] = values["time_zone"] or UTC_NAME
        try:
            async with pool.acquire() as conn, conn.transaction():
                created = await service.create_user(conn, **values, password=str(form.get("password") or ""))
                await queries.insert_audit(
                    conn,
                    user_id=user.user_id,
                    action="user.created",
                    target_type="user",
                    target_id=str(created.id),
                    details={"email": created.email, "role": created.role},
                    request_id=request_id_of(request.scope),
                )
        except (InvalidInput, Conflict) as error:
            return await self._page(request, pool, user, errors=[error.detail], form=values, status=422)
        return redirect("/console/users?done=created")

    async def _change(
        self,
        request: Request[Any, Any, Any],
        pool: asyncpg.Pool,
        user: SessionUser,
        user_id: UUID,
        action: str,
    ) -> Response[Any]:
        if user_id == user.user_id and action == "disable":
            return await self._page(
                request, pool, user, errors=["You cannot disable your own account."], status=422
            )
        async with pool.acquire() as conn, conn.transaction():
            if action == "unlock":
                changed = await service.unlock(conn, user_id)
            else:
                changed = await service.set_disabled(conn, user_id, disabled=action == "disable")
            await queries.insert_audit(
                conn,
                user_id=user.user_id,
                action=f"user.{action}d",
                target_type="user",
                target_id=str(changed.id),
                request_id=request_id_of(request.scope),
            )
        return redirect(f"/console/users?done={action}d")

    @post("/{user_id:uuid}/password", status_code=200)
    async def set_password(
        self,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        user: NamedDependency[SessionUser],
        user_id: FromPath[UUID],
    ) -> Response[Any]:
        """A manager sets a new password for someone who forgot theirs (or whose was exposed)."""
        password = str((await request.form()).get("password") or "")
        try:
            async with pool.acquire() as conn, conn.transaction():
                changed = await service.reset_password(conn, user_id, password)
                await queries.insert_audit(
                    conn,
                    user_id=user.user_id,
                    action="user.password_reset",
                    target_type="user",
                    target_id=str(changed.id),
                    request_id=request_id_of(request.scope),
                )
        except InvalidInput as error:
            return await self._page(request, pool, user, password_problem=(user_id, error.detail), status=422)
        if user_id == user.user_id:
            # their own sessions ended with the old password, this one included
            return redirect("/console/login")
        return redirect("/console/users?done=password")

    @post("/{user_id:uuid}/disable", status_code=200)
    async def disable_user(
        self,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        user: NamedDependency[SessionUser],
        user_id: FromPath[UUID],
    ) -> Response[Any]:
        return await self._change(request, pool, user, user_id, "disable")

    @post("/{user_id:uuid}/enable", status_code=200)
    async def enable_user(
        self,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        user: NamedDependency[SessionUser],
        user_id: FromPath[UUID],
    ) -> Response[Any]:
        return await self._change(request, pool, user, user_id, "enable")

    @post("/{user_id:uuid}/unlock", status_code=200)
    async def unlock_user(
        self,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        user: NamedDependency[SessionUser],
        user_id: FromPath[UUID],
    ) -> Response[Any]:
        return await self._change(request, pool, user, user_id, "unlock")
