"""Console responses: HTML with the strict page headers, redirects, and the guard's refusals."""

from typing import Any

from litestar import MediaType, Request, Response
from litestar.datastructures import Cookie
from litestar.response import Redirect
from litestar.types import ExceptionHandlersMap

from feedback_svc.console.guard import ConsoleForbidden, LoginRequired, login_url, signed_in_user
from feedback_svc.console.web.render import ConsolePages
from feedback_svc.surveys.web.security import security_headers


def pages(request: Request[Any, Any, Any]) -> ConsolePages:
    return request.app.state.console_pages


def html(body: str, *, status: int = 200, cookies: list[Cookie] | None = None) -> Response[str]:
    return Response(
        body, status_code=status, media_type=MediaType.HTML, headers=security_headers(), cookies=cookies
    )


def redirect(path: str, *, cookies: list[Cookie] | None = None) -> Redirect:
    # 303: after a POST the browser GETs the next page, so a reload never re-sends the form
    return Redirect(path, status_code=303, headers=security_headers(), cookies=cookies)


def _login_required(request: Request[Any, Any, Any], exc: LoginRequired) -> Response[Any]:
    return redirect(login_url(exc.next_path))


def _forbidden(request: Request[Any, Any, Any], exc: ConsoleForbidden) -> Response[str]:
    # the guard raised after loading the session, so it is on the request already
    user = signed_in_user(request)
    body = pages(request).render(
        "notice.html",
        user=user,
        heading="Not allowed",
        message=exc.message,
        link_href="/console",
        link_label="Back to the console",
    )
    return html(body, status=403)


CONSOLE_EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    LoginRequired: _login_required,
    ConsoleForbidden: _forbidden,
}
