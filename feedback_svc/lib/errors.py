"""The error hierarchy and its one rendering: RFC 9457 problem+json.

Services raise these; one handler turns them (and Litestar's own errors) into a
problem document a person can act on. Nothing else builds error responses.
"""

from http import HTTPStatus
from typing import Any, ClassVar

PROBLEM_BASE = "https://feedback-svc.dev/problems/"


class AppError(Exception):
    """Base of every error the service reports to a client."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}

    @property
    def type_uri(self) -> str:
        return PROBLEM_BASE + self.slug


class InvalidInput(AppError):
    status = 422
    slug = "invalid-input"
    title = "The request is not valid"


class MalformedRequest(AppError):
    status = 400
    slug = "malformed-request"
    title = "The request could not be read"


class Unauthorized(AppError):
    status = 401
    slug = "unauthorized"
    title = "Authentication required"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="feedback-svc"'})


class Forbidden(AppError):
    status = 403
    slug = "forbidden"
    title = "Not allowed"


class NotFound(AppError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(AppError):
    status = 409
    slug = "conflict"
    title = "Conflict with the current state"


class Gone(AppError):
    status = 410
    slug = "gone"
    title = "No longer available"


class PayloadTooLarge(AppError):
    status = 413
    slug = "payload-too-large"
    title = "Request body too large"


class TooManyRequests(AppError):
    status = 429
    slug = "rate-limited"
    title = "Too many requests"


class ServiceUnavailable(AppError):
    status = 503
    slug = "unavailable"
    title = "Service unavailable"


class HttpError(AppError):
    """Litestar's own HTTP errors (405, 413 ...), keeping their status."""

    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail, headers=headers)
        self.status = status  # type: ignore[misc]
        self.slug = f"http-{status}"  # type: ignore[misc]
        self.title = HTTPStatus(status).phrase  # type: ignore[misc]
