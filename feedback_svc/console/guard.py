"""Who may open a console page: a session cookie, a role, and a CSRF token on every POST.

Console pages skip the API-key middleware (`opt={PUBLIC: True}`) and are guarded here
instead. The guard loads the session once per request and keeps it on the request's
state, where the `console_user` dependency hands it to the handler.
"""

import hmac
from typing import Any
from urllib.parse import quote

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from feedback_svc.settings import Settings
from feedback_svc.users.schemas import Role, SessionUser
from feedback_svc.users.service import session_for_cookie

CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_STATE_KEY = "console_user"


class LoginRequired(Exception):
    """No live session: the browser is sent to the login page and back afterwards."""

    def __init__(self, next_path: str) -> None:
        super().__init__("login required")
        self.next_path = next_path


class ConsoleForbidden(Exception):
    """Signed in, but this page or action is not for this role (or the form was forged)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def uses_https(settings: Settings) -> bool:
    return settings.base_url.startswith("https://")


def session_cookie_name(settings: Settings) -> str:
    # the __Host- prefix makes browsers refuse the cookie unless Secure, host-only and Path=/
    return "__Host-fb_console" if uses_https(settings) else "fb_console"


def login_url(next_path: str) -> str:
    return "/console/login?next=" + quote(next_path, safe="/")


def safe_next(next_path: str | None) -> str:
    """Only paths inside the console: never an open redirect to another site."""
    inside = bool(next_path) and next_path.startswith("/console") and not next_path.startswith("//")
    if inside and "\\" not in next_path and not next_path.startswith("/console/login"):
        return next_path
    return "/console"


def tokens_match(sent: str | None, expected: str) -> bool:
    return bool(sent) and hmac.compare_digest(str(sent).encode(), expected.encode())


async def load_session(connection: ASGIConnection[Any, Any, Any, Any]) -> SessionUser | None:
    cached = connection.state.get(_STATE_KEY)
    if cached is not None:
        return cached
    settings: Settings = connection.app.state.settings
    user = await session_for_cookie(
        connection.app.state.pool, connection.cookies.get(session_cookie_name(settings))
    )
    if user is not None:
        connection.state[_STATE_KEY] = user
    return user


def requires_role(role: Role) -> Guard:
    """A guard for console pages: signed in with `role` (managers pass agent pages), CSRF on POST."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = await load_session(connection)
        if user is None:
            path = connection.url.path
            raise LoginRequired(path if connection.scope["method"] in SAFE_METHODS else "/console")
        if not user.can(role):
            raise ConsoleForbidden(f"This page is for {role}s; you are signed in as an {user.role}.")
        if connection.scope["method"] not in SAFE_METHODS:
            sent = (await connection.form()).get(CSRF_FIELD) if isinstance(connection, Request) else None
            if not tokens_match(sent, user.csrf_token):
                raise ConsoleForbidden(
                    "This form was not sent from a console page of this session, so nothing was done. "
                    "Reload the page and try again."
                )

    guard.__name__ = f"requires_{role}_session"
    return guard


def signed_in_user(request: Request[Any, Any, Any]) -> SessionUser | None:
    return request.state.get(_STATE_KEY)


def console_user(request: Request[Any, Any, Any]) -> SessionUser:
    """The signed-in user; only for handlers behind `requires_role`."""
    user = request.state.get(_STATE_KEY)
    if user is None:  # a handler without the guard: a programming error, refuse loudly
        raise LoginRequired(request.url.path)
    return user
