"""One place that turns every failure into RFC 9457 problem+json."""

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


def _database_down(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.warning("database_unavailable", error=repr(exc))
    error = ServiceUnavailable(
        "The database is not reachable right now; nothing was saved. Retry in a few seconds.",
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


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
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
    asyncpg.PostgresConnectionError: _database_down,
    asyncpg.CannotConnectNowError: _database_down,
    asyncpg.exceptions.ConnectionDoesNotExistError: _database_down,
    asyncpg.CharacterNotInRepertoireError: _unstorable_text,
    asyncpg.UntranslatableCharacterError: _unstorable_text,
    ConnectionError: _database_down,  # includes refused and reset connections
    TimeoutError: _database_down,
    Exception: _unexpected,
}

__all__ = ["EXCEPTION_HANDLERS", "PROBLEM_BASE", "PROBLEM_JSON", "problem_response"]
