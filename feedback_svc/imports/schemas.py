"""Imports on the wire, and the rows a file may hold (one NDJSON line = one of these)."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import UNSET, Meta, UnsetType

from feedback_svc.customers.schemas import CustomerUpsert, EventCreate
from feedback_svc.lib.structs import Wire
from feedback_svc.surveys.schemas import InteractionCreate

ImportKind = Literal["customers", "events", "interactions"]
ImportFormat = Literal["csv", "ndjson"]
ImportStatus = Literal["receiving", "queued", "validating", "applying", "succeeded", "failed"]


class CustomerRow(CustomerUpsert, kw_only=True):
    """A customer as POST /v1/customers takes it, and since when its attributes, value and
    segment were so (back-filled history); without `as_of`, from when the import is applied."""

    as_of: Annotated[datetime, Meta(tz=True)] | UnsetType = UNSET


# events and interactions are the single endpoints' bodies; imported interactions never invite
EventRow = EventCreate
InteractionRow = InteractionCreate


class Import(Wire):
    id: UUID
    kind: ImportKind
    format: ImportFormat
    status: Annotated[
        ImportStatus,
        Meta(
            description="receiving (the file is arriving), queued, validating (rows checked), applying "
            "(valid rows written), succeeded (even with invalid rows: see rows_invalid and errors) or "
            "failed (nothing more will happen; `message` says why)."
        ),
    ]
    file_name: str | None
    bytes: int
    rows_total: Annotated[int, Meta(description="Rows in the file (a CSV header is not a row).")]
    rows_valid: int
    rows_invalid: Annotated[int, Meta(description="Rows refused; GET .../errors says why, by line.")]
    rows_applied: Annotated[int, Meta(description="Valid rows written so far (progress while applying).")]
    rows_created: int
    rows_updated: int
    rows_unchanged: Annotated[
        int, Meta(description="Valid rows that changed nothing: sent before (same external_id), or equal.")
    ]
    message: str | None
    created_at: datetime
    received_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


class ImportList(Wire):
    items: list[Import]


class RowError(Wire):
    line: Annotated[int, Meta(description="1-based line of the file (a CSV header is line 1).")]
    field: str | None
    message: str


class RowErrors(Wire):
    items: list[RowError]
    next_after_line: Annotated[
        int | None, Meta(description="Pass as `after_line` for the next page; null on the last.")
    ]
    total: Annotated[int, Meta(description="All refused rows, also those beyond the kept ones.")]
