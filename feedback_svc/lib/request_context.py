"""Request ids and access logs for every request, including 404s and errors.

Wraps the whole Litestar ASGI handler (not a route middleware) so requests that
never reach a route still get an id, an `X-Request-Id` header and a log line; it also
counts each request in the request metrics (metrics/requests.py) as it finishes.

This runs on every request, the liveness probe included, so it does only what is used:
the id is a per-process random prefix and a counter (unique like a uuid4, a fraction of
its cost), it reaches log lines through one context variable read by `add_request_id`
(no structlog binding per request), and the access line is built only when INFO is on.
"""

import itertools
import logging
import os
import re
import time
from contextvars import ContextVar
from typing import Any

import structlog

from feedback_svc.metrics.requests import COLLECTOR

log = structlog.get_logger("feedback_svc.access")
_access = logging.getLogger("feedback_svc.access")

_CLIENT_ID = re.compile(r"[A-Za-z0-9._\-]{1,64}")
REQUEST_ID_HEADER = b"x-request-id"

# The request being served, for log lines written while serving it (see add_request_id).
current_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


class _RequestIds:
    """32 hex characters, as a uuid4's: 16 random per process, then a 16-digit counter."""

    def __init__(self) -> None:
        self.reset()
        # a forked worker must not repeat its parent's ids
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self.prefix = os.urandom(8).hex()
        self.counter = itertools.count()

    def next(self) -> str:
        return f"{self.prefix}{next(self.counter):016x}"


_ids = _RequestIds()


def request_id_of(scope: Any) -> str:
    """The request's id, made on first use (a client's own id is kept if sane)."""
    state = scope.setdefault("state", {})
    request_id = state.get("request_id")
    if request_id is None:
        for name, value in scope.get("headers", ()):
            if name == REQUEST_ID_HEADER:
                text = value.decode("latin-1")
                if _CLIENT_ID.fullmatch(text):
                    request_id = text
                break
        state["request_id"] = request_id = request_id or _ids.next()
    return request_id


def add_request_id(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """A structlog processor: the id of the request being served, if any."""
    request_id = current_request_id.get()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    return event


class RequestContext:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        id_header = (REQUEST_ID_HEADER, request_id.encode())
        status = 500

        async def send_with_id(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        token = current_request_id.set(request_id)
        COLLECTOR.started(scope)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            # the request metrics too: one layer instead of a second one around every route
            COLLECTOR.finished(scope, status, seconds)
            if _access.isEnabledFor(logging.INFO):
                log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round(seconds * 1000, 2),
                )
            current_request_id.reset(token)
