"""Console sign-in, sign-out and the home page.

Login forms have no session yet, so their CSRF token is a double-submit cookie
(a random value in a cookie and in the form, compared on POST); every form after
login carries the session's own token, checked by the guard.
"""

import math
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import structlog
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery

from feedback_svc.console.guard import (
    CSRF_FIELD,
    console_user,
    load_session,
    requires_role,
    safe_next,
    session_cookie_name,
    tokens_match,
    uses_https,
)
from feedback_svc.console.respond import CONSOLE_EXCEPTION_HANDLERS, html, pages, redirect
from feedback_svc.lib.auth import PUBLIC
from feedback_svc.lib.errors import InvalidInput
from feedback_svc.lib.localtime import local_text, time_zone_names
from feedback_svc.lib.ratelimit import RateLimiter, retry_after_header
from feedback_svc.lib.request_context import request_id_of
from feedback_svc.settings import Settings
from feedback_svc.users import queries, service
from feedback_svc.users.schemas import SessionUser

LOGIN_CSRF_COOKIE = "fb_login_csrf"
LOGIN_FORM_SECONDS = 3600

log = structlog.get_logger(__name__)


def _settings(request: Request[Any, Any, Any]) -> Settings:
    return request.app.state.settings


def _login_cookie(request: Request[Any, Any, Any], value: str, *, max_age: int) -> Cookie:
    return Cookie(
        key=LOGIN_CSRF_COOKIE,
        value=value,
        max_age=max_age,
        path="/console/login",
        httponly=True,
        secure=uses_https(_settings(request)),
        samesite="strict",
    )


def _failed_logins(request: Request[Any, Any, Any]) -> tuple[RateLimiter | None, str]:
    """The shared counter of failed logins and this client's bucket in it.

    The per-account lock stops guessing one password; this stops one client from trying a few
    passwords on each of many accounts. Behind a load balancer the client is the address it
    forwards (FEEDBACK_TRUSTED_PROXIES), else everyone would share the balancer's bucket.
    """
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    client = request.client.host if request.client else "unknown"
    return limiter, f"login:{client}"


def _session_cookie(request: Request[Any, Any, Any], value: str, *, max_age: int) -> Cookie:
    settings = _settings(request)
    return Cookie(
        key=session_cookie_name(settings),
        value=value,
        max_age=max_age,
        path="/",
        httponly=True,
        secure=uses_https(settings),
        # Lax: a link from an email into the console keeps the session; a cross-site POST does not
        samesite="lax",
    )


def _login_page(
    request: Request[Any, Any, Any],
    *,
    next_path: str,
    email: str = "",
    message: str = "",
    message_kind: str = "error",
    status: int = 200,
) -> Response[str]:
    token = secrets.token_urlsafe(32)
    body = pages(request).render(
        "login.html",
        user=None,
        login_csrf=token,
        next=next_path,
        email=email,
        message=message,
        message_kind=message_kind,
    )
    return html(body, status=status, cookies=[_login_cookie(request, token, max_age=LOGIN_FORM_SECONDS)])


class ConsoleAuthController(Controller):
    path = "/console"
    opt = {PUBLIC: True}
    include_in_schema = False
    exception_handlers = CONSOLE_EXCEPTION_HANDLERS

    @get("/login")
    async def show_login(
        self,
        request: Request[Any, Any, Any],
        next: FromQuery[str | None] = None,
        logged_out: FromQuery[bool] = False,
    ) -> Response[Any]:
        if await load_session(request) is not None:
            return redirect(safe_next(next))
        message = "You are logged out." if logged_out else ""
        return _login_page(request, next_path=safe_next(next), message=message, message_kind="info")

    @post("/login", status_code=200)
    async def login(
        self, request: Request[Any, Any, Any], pool: NamedDependency[asyncpg.Pool]
    ) -> Response[Any]:
        form = await request.form()
        email = str(form.get("email") or "")[:320]
        password = str(form.get("password") or "")
        next_path = safe_next(str(form.get("next") or ""))
        if not tokens_match(form.get(CSRF_FIELD), request.cookies.get(LOGIN_CSRF_COOKIE, "")):
            return _login_page(
                request,
                next_path=next_path,
                email=email,
                message="This login form has expired or was not sent from this site. Please log in again.",
                status=403,
            )
        settings = _settings(request)
        limiter, bucket = _failed_logins(request)
        window = settings.console_login_window_seconds
        wait = (
            limiter.wait(bucket, settings.console_max_failed_logins_per_client, window_seconds=window)
            if limiter is not None
            else None
        )
        if wait is not None:
            # refused before the password is even hashed: a flood costs us no argon2 time
            log.warning("console_login_throttled", bucket=bucket, retry_after=round(wait))
            minutes = max(1, math.ceil(wait / 60))
            refused = _login_page(
                request,
                next_path=next_path,
                email=email,
                message="Too many failed logins from your network. "
                f"Try again in {minutes} minute{'s' if minutes != 1 else ''}.",
                status=429,
            )
            refused.headers.update(retry_after_header(wait))
            return refused
        now = datetime.now(UTC)
        lifetime = timedelta(hours=settings.console_session_hours)
        async with pool.acquire() as conn, conn.transaction():
            try:
                user = await service.authenticate(
                    conn,
                    email=email,
                    password=password,
                    now=now,
                    max_failures=settings.console_max_failed_logins,
                    lockout=timedelta(minutes=settings.console_lockout_minutes),
                )
            except service.LoginRefused as refused:
                failure: str | None = str(refused)
            else:
                failure = None
                opened = await service.open_session(conn, user, now=now, lifetime=lifetime)
                await queries.insert_audit(
                    conn, user_id=user.id, action="console.login", request_id=request_id_of(request.scope)
                )
        if failure is not None:
            # committed above: the failure counts even though the answer is a refusal
            if limiter is not None:
                limiter.add(bucket, window_seconds=window)
            return _login_page(request, next_path=next_path, email=email, message=failure, status=401)
        cookies = [
            _session_cookie(request, opened.cookie_value, max_age=int(lifetime.total_seconds())),
            _login_cookie(request, "", max_age=0),
        ]
        return redirect(next_path, cookies=cookies)

    @get("/logout")
    async def show_logout(self, request: Request[Any, Any, Any]) -> Response[Any]:
        user = await load_session(request)
        if user is None:
            return redirect("/console/login")
        body = pages(request).render(
            "notice.html",
            user=user,
            heading="Log out",
            message="Use the Log out button at the top of the page to end this session.",
            link_href="",
            link_label="",
        )
        return html(body)

    @post("/logout", guards=[requires_role("agent")], status_code=200)
    async def logout(
        self, request: Request[Any, Any, Any], pool: NamedDependency[asyncpg.Pool]
    ) -> Response[Any]:
        user = console_user(request)
        settings = _settings(request)
        async with pool.acquire() as conn, conn.transaction():
            await service.end_session(conn, request.cookies.get(session_cookie_name(settings), ""))
            await queries.insert_audit(
                conn, user_id=user.user_id, action="console.logout", request_id=request_id_of(request.scope)
            )
        return redirect("/console/login?logged_out=true", cookies=[_session_cookie(request, "", max_age=0)])


class ConsoleHomeController(Controller):
    path = "/console"
    opt = {PUBLIC: True}
    include_in_schema = False
    guards = [requires_role("agent")]
    exception_handlers = CONSOLE_EXCEPTION_HANDLERS
    dependencies = {"user": Provide(console_user, sync_to_thread=False)}

    def _home(
        self,
        request: Request[Any, Any, Any],
        user: SessionUser,
        *,
        message: str = "",
        error: str = "",
        status: int = 200,
    ) -> Response[str]:
        body = pages(request).render(
            "home.html",
            user=user,
            current="/console",
            expires=local_text(user.expires_at, user.time_zone),
            now_text=local_text(datetime.now(UTC), user.time_zone),
            zones=time_zone_names(),
            message=message,
            error=error,
        )
        return html(body, status=status)

    @get("/")
    async def home(
        self,
        request: Request[Any, Any, Any],
        user: NamedDependency[SessionUser],
        done: FromQuery[str | None] = None,
    ) -> Response[str]:
        message = "Your time zone was saved: times in the console are shown in it." if done == "zone" else ""
        return self._home(request, user, message=message)

    @post("/time-zone", status_code=200)
    async def set_time_zone(
        self,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        user: NamedDependency[SessionUser],
    ) -> Response[Any]:
        """Each person picks the zone their deadlines and history are shown in (a page runs no script)."""
        zone = str((await request.form()).get("time_zone") or "").strip()
        try:
            async with pool.acquire() as conn, conn.transaction():
                await service.set_time_zone(conn, user.user_id, zone)
                await queries.insert_audit(
                    conn,
                    user_id=user.user_id,
                    action="user.time_zone_changed",
                    target_type="user",
                    target_id=str(user.user_id),
                    details={"time_zone": zone},
                    request_id=request_id_of(request.scope),
                )
        except InvalidInput as error:
            return self._home(request, user, error=error.detail, status=422)
        return redirect("/console?done=zone")
