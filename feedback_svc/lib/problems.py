"""One place that turns every failure into RFC 9457 problem+json."""

import socket
from typing import Any

import asyncpg
import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import (
    ClientException,
    HTTPException,
    MethodNotAllowedException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    SerializationException,
    ValidationException,
)
from litestar.types import ExceptionHandlersMap

from feedback_svc.lib.bounds import RANGE_TEXT
from feedback_svc.lib.errors import (
    PROBLEM_BASE,
    AppError,
    Forbidden,
    HttpError,
    InvalidInput,
    MalformedRequest,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from feedback_svc.lib.request_context import request_id_of
from feedback_svc.lib.structs import Problem

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
_encoder = msgspec.json.Encoder()


def problem_response(request: Request[Any, Any, Any], error: AppError) -> Response[bytes]:
    body = Problem(
        type=error.type_uri,
        title=error.title,
        status=error.status,
        detail=error.detail,
        instance=request.url.path,
        request_id=request_id_of(request.scope),
        errors=error.errors,
    )
    return Response(
        content=_encoder.encode(body),
        status_code=error.status,
        media_type=PROBLEM_JSON,
        headers=error.headers,
    )


def _app_error(request: Request[Any, Any, Any], exc: AppError) -> Response[bytes]:
    return problem_response(request, exc)


def _validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[bytes]:
    errors = [_field_error(item) for item in (exc.extra or []) if isinstance(item, dict)]
    names = ", ".join(str(error["field"]) for error in errors if error.get("field")) or "the request"
    detail = (
        f"Check {names}: " + "; ".join(str(error["message"]) for error in errors)
        if errors
        else str(exc.detail)
    )
    return problem_response(request, InvalidInput(detail, errors=errors or None))


def _field_error(item: dict[str, Any]) -> dict[str, object]:
    field = item.get("key")
    error: dict[str, object] = {"message": item.get("message", "invalid value")}
    if field:
        error["field"] = field
    if item.get("source"):
        error["source"] = str(item["source"])
    return error


def _client(request: Request[Any, Any, Any], exc: ClientException) -> Response[bytes]:
    if isinstance(exc.__cause__, SerializationException):
        return problem_response(request, MalformedRequest(f"The body is not valid JSON: {exc.detail}."))
    return _http(request, exc)


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    mapped: AppError
    if isinstance(exc, NotFoundException):
        mapped = NotFound(f"Nothing is served at {request.method} {request.url.path}.")
    elif isinstance(exc, NotAuthorizedException):
        mapped = Unauthorized(str(exc.detail))
    elif isinstance(exc, PermissionDeniedException):
        mapped = Forbidden(str(exc.detail))
    else:
        mapped = _generic(exc)
    if isinstance(exc, MethodNotAllowedException):
        mapped.headers.update(exc.headers or {})
        mapped.detail = f"{request.method} is not allowed on {request.url.path}."
    return problem_response(request, mapped)


def _generic(exc: HTTPException) -> AppError:
    return HttpError(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))


# What asyncpg raises when the server went away or a connection broke under a request: a
# refused or reset socket, a server starting up, shutting down or recovering from a crash, no
# connection free in time, and the protocol state asyncpg is left in when the server's
# goodbye arrives on an idle connection. Retrying on a fresh connection is the cure for all.
_CONNECTION_LOST: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # 08xxx, ConnectionDoesNotExistError among them
    asyncpg.CannotConnectNowError,  # 57P03
    asyncpg.AdminShutdownError,  # 57P01: terminating connection due to administrator command
    asyncpg.CrashShutdownError,  # 57P02: another server process crashed
    asyncpg.TooManyConnectionsError,  # 53300
    asyncpg.exceptions.InternalClientError,
    ConnectionError,  # refused and reset connections
    socket.gaierror,  # the database's host name does not resolve (yet)
    TimeoutError,  # connecting, or waiting for a free connection, took too long
)


def _connection_lost(exc: BaseException) -> bool:
    """Whether `exc`, or what it was raised while handling, means the database went away.

    A lost connection often surfaces second-hand: `async with conn.transaction()` raises
    "the underlying connection is closed" while the real cause waits in `__context__`.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, _CONNECTION_LOST):
            return True
        if isinstance(current, asyncpg.InterfaceError) and "connection is closed" in str(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _database_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    if _out_of_range(exc):
        return _value_out_of_range(request, exc)
    if not _connection_lost(exc):
        return _unexpected(request, exc)
    log.warning("database_unavailable", error=repr(exc))
    # a connection lost during COMMIT leaves the outcome unknown: only a retry can tell
    error = ServiceUnavailable(
        "The database is not reachable right now, so the request may not have been carried out. "
        "Retry in a few seconds; with the same Idempotency-Key a request that was carried out is "
        "answered as it was, not done twice.",
        headers={"Retry-After": "5"},
    )
    return problem_response(request, error)


def _unstorable_text(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    # PostgreSQL text cannot hold a NUL character; input carrying one is the client's to fix
    error = InvalidInput(
        "The request contains a character that cannot be stored (a NUL, \\u0000); remove it and "
        "send it again. Nothing was saved."
    )
    return problem_response(request, error)


# A number or date the database or Python's datetime cannot hold. The decoding layer refuses
# such values in bodies (lib/checks.py) and routes check their parameters (lib/bounds.py); this
# catches any that still slip through, as the input error it is, not as a 500.
_OUT_OF_RANGE: tuple[type[BaseException], ...] = (
    OverflowError,
    asyncpg.NumericValueOutOfRangeError,  # 22003
    asyncpg.DatetimeFieldOverflowError,  # 22008
)


def _out_of_range(exc: BaseException) -> bool:
    # asyncpg reports a value it cannot encode as DataError("invalid input for query argument")
    # raised from the OverflowError
    return isinstance(exc, _OUT_OF_RANGE) or isinstance(exc.__cause__, OverflowError)


def _value_out_of_range(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.warning("value_out_of_range", path=request.url.path, error=repr(exc))
    error = InvalidInput(
        "A number or date in the request is outside the range this service handles (dates "
        f"{RANGE_TEXT}, whole numbers within 64 bits). Nothing was saved."
    )
    return problem_response(request, error)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    if _out_of_range(exc):
        return _value_out_of_range(request, exc)
    log.exception("unhandled_error", path=request.url.path)
    error = AppError(
        "Something went wrong on our side. The error was logged with this request's id; "
        "retrying is safe for idempotent requests."
    )
    return problem_response(request, error)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    AppError: _app_error,
    ValidationException: _validation,
    ClientException: _client,
    HTTPException: _http,
    asyncpg.CharacterNotInRepertoireError: _unstorable_text,
    asyncpg.UntranslatableCharacterError: _unstorable_text,
    # every database error goes through one check: a lost connection is a 503, the rest a 500
    asyncpg.PostgresError: _database_error,
    asyncpg.InterfaceError: _database_error,
    asyncpg.exceptions.InternalClientError: _database_error,
    OSError: _database_error,
    TimeoutError: _database_error,
    Exception: _unexpected,
}

__all__ = ["EXCEPTION_HANDLERS", "PROBLEM_BASE", "PROBLEM_JSON", "problem_response"]
