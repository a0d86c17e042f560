"""Request ids and access logs for every request, including 404s and errors.

Wraps the whole Litestar ASGI handler (not a route middleware) so requests that
never reach a route still get an id, an `X-Request-Id` header and a log line.
"""

import re
import time
import uuid
from typing import Any

import structlog

log = structlog.get_logger("feedback_svc.access")

_CLIENT_ID = re.compile(r"[A-Za-z0-9._\-]{1,64}")
REQUEST_ID_HEADER = b"x-request-id"


def request_id_of(scope: Any) -> str:
    """The request's id, made on first use (a client's own id is kept if sane)."""
    state = scope.setdefault("state", {})
    request_id = state.get("request_id")
    if request_id is None:
        request_id = uuid.uuid4().hex
        for name, value in scope.get("headers", ()):
            if name == REQUEST_ID_HEADER:
                text = value.decode("latin-1")
                if _CLIENT_ID.fullmatch(text):
                    request_id = text
                break
        state["request_id"] = request_id
    return request_id


class RequestContext:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        status = 500

        async def send_with_id(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (REQUEST_ID_HEADER, request_id.encode())]
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")
