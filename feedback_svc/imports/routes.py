"""HTTP for bulk imports; the rules live in service.py."""

from dataclasses import dataclass
from typing import Annotated
from uuid import UUID
from zoneinfo import available_timezones

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import FromPath, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from feedback_svc.apikeys.service import Principal
from feedback_svc.imports import service
from feedback_svc.imports.schemas import Import, ImportFormat, ImportKind, ImportList, RowErrors
from feedback_svc.lib.auth import requires_scope
from feedback_svc.lib.errors import HttpError, InvalidInput
from feedback_svc.lib.idempotency import REPLAYED_HEADER, IdempotencyKey, check_key
from feedback_svc.lib.openapi import BEARER, problem_responses

CrmRequest = Request[Principal, Principal, State]
# one upload: far above any CRM's history, far below what would fill a disk by accident
MAX_UPLOAD_BYTES = 20 * 1024**3
MEDIA_TYPES: dict[str, ImportFormat] = {
    "text/csv": "csv",
    "application/x-ndjson": "ndjson",
    "application/jsonl": "ndjson",
}

_encoder = msgspec.json.Encoder()


@dataclass
class StreamedFile(Operation):
    """The upload's body is the file itself, CSV or NDJSON, read as it arrives."""

    def __post_init__(self) -> None:
        text = Schema(type=OpenAPIType.STRING)
        self.request_body = RequestBody(
            required=True,
            description="The file: CSV with a header line (`text/csv`), or one JSON object per line "
            "(`application/x-ndjson`). UTF-8. Streamed: any size up to 20 GiB.",
            content={media: OpenAPIMediaType(schema=text) for media in MEDIA_TYPES},
        )


def _format_of(request: CrmRequest) -> ImportFormat:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    fmt = MEDIA_TYPES.get(media)
    if fmt is None:
        raise HttpError(
            415,
            f"Send the file as text/csv or application/x-ndjson (got {media or 'no Content-Type'}).",
        )
    return fmt


def _reply(imported: Import, *, status: int, replayed: bool = False) -> Response[bytes]:
    headers = {"Location": f"/v1/imports/{imported.id}"}
    if replayed:
        headers[REPLAYED_HEADER] = "true"
    return Response(
        content=_encoder.encode(imported), status_code=status, media_type="application/json", headers=headers
    )


class ImportsController(Controller):
    path = "/v1/imports"
    tags = ["imports"]
    opt = requires_scope("crm")
    security = BEARER

    @post(
        ["/customers", "/events", "/interactions"],
        summary="Import customers, events or interactions from a CSV or NDJSON file",
        description=(
            "Each row is what POST /v1/customers, "
            "POST /v1/events or POST /v1/interactions takes, checked the same way with the same "
            "messages; rows name customers by `customer_external_id` (or `customer_id`). CSV: the "
            "header names the columns; an empty cell is a field not sent; for customers, a column that "
            "is not a field is an attribute (numbers and true/false read as such); dates without a UTC "
            "offset are in `time_zone`. Customer rows may carry `as_of`: since when their attributes, "
            "value and segment were so (back-filled history). Imported interactions never invite.\n\n"
            "Answers 202 with the import once the file has arrived; GET its Location for progress and "
            "`/errors` for refused rows by line. A bad row never fails the good ones. The same file "
            "again, or a retry with the same Idempotency-Key, answers 200 with the first import and "
            "changes nothing."
        ),
        status_code=HTTP_202_ACCEPTED,
        request_max_body_size=MAX_UPLOAD_BYTES,
        operation_class=StreamedFile,
        responses={
            HTTP_200_OK: ResponseSpec(
                data_container=Import, description="This file was imported before: the first import"
            ),
            **problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
        },
    )
    async def upload(
        self,
        request: CrmRequest,
        pool: NamedDependency[asyncpg.Pool],
        time_zone: Annotated[
            str, QueryParameter(description="For dates without a UTC offset (IANA name).")
        ] = "UTC",
        file_name: Annotated[
            str | None, QueryParameter(max_length=200, description="Shown with the import.")
        ] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Import]:
        kind: ImportKind = request.url.path.rstrip("/").rsplit("/", 1)[1]  # type: ignore[assignment]
        if time_zone not in available_timezones():
            raise InvalidInput(
                f"{time_zone!r} is not an IANA time zone name such as Europe/Berlin.",
                errors=[{"field": "time_zone", "message": "an IANA time zone name", "source": "query"}],
            )
        fmt = _format_of(request)
        upload, fresh = await service.start_upload(
            pool,
            kind=kind,
            fmt=fmt,
            api_key_id=request.user.key_id,
            requested_by=request.user.name,
            file_name=file_name,
            idempotency_key=check_key(idempotency_key) if idempotency_key is not None else None,
            time_zone=time_zone,
        )
        if not fresh:
            return _reply(service.to_wire(upload), status=HTTP_200_OK, replayed=True)  # type: ignore[return-value]
        imported, queued = await service.receive(pool, upload, request.stream())
        return _reply(imported, status=HTTP_202_ACCEPTED if queued else HTTP_200_OK)  # type: ignore[return-value]

    @get("/", summary="The latest imports", responses=problem_responses(401, 403, 422))
    async def list_imports(
        self,
        pool: NamedDependency[asyncpg.Pool],
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> ImportList:
        return await service.list_imports(pool, limit=limit)

    @get(
        "/{import_id:uuid}", summary="An import and its progress", responses=problem_responses(401, 403, 404)
    )
    async def get_import(self, pool: NamedDependency[asyncpg.Pool], import_id: FromPath[UUID]) -> Import:
        return await service.get_import(pool, import_id)

    @get(
        "/{import_id:uuid}/errors",
        summary="The rows an import refused, by line, with why",
        responses=problem_responses(401, 403, 404, 422),
    )
    async def row_errors(
        self,
        pool: NamedDependency[asyncpg.Pool],
        import_id: FromPath[UUID],
        after_line: Annotated[int, QueryParameter(ge=0, le=2**62)] = 0,
        lines: Annotated[int, QueryParameter(ge=1, le=1000, description="Refused lines per page.")] = 100,
    ) -> RowErrors:
        return await service.row_errors(pool, import_id, after_line=after_line, lines=lines)
