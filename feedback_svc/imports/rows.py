"""One row of a file -> the tuple its staging table takes, or what is wrong with it.

Every check the single-record endpoints make is made here, by the same code and with the same
messages: the JSON line is decoded into the endpoint's own Struct (strictly, as the API does),
and the customer, event and interaction rules are the services' own. A CSV row is the same
Struct built from text cells: an empty cell is a field not sent, numbers and dates are read from
text, and a date or time without a UTC offset is taken in the import's time zone.
"""

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any, Final
from uuid import UUID

import msgspec

from feedback_svc.customers.service import event_problems, validated_fields
from feedback_svc.imports.schemas import CustomerRow, EventRow, ImportKind, InteractionRow
from feedback_svc.lib.body import _field_of
from feedback_svc.lib.checks import Refused, checker_for
from feedback_svc.lib.errors import InvalidInput

Problem = tuple[str | None, str]
Staged = tuple[Any, ...]
Result = Staged | list[Problem]

NUL_MESSAGE = "contains a NUL character (\\u0000), which cannot be stored; remove it"
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


class RowReader:
    """How rows of one kind are read; `columns` are the staging table's, after (import_id, line)."""

    kind: ImportKind
    table: str
    columns: tuple[str, ...]
    row_type: type[msgspec.Struct]
    # CSV columns read as dates; the others (known fields) as the Struct's types
    date_columns: frozenset[str]

    def __init__(self, *, time_zone: tzinfo = UTC, currency: str | None = None, now: datetime) -> None:
        self.time_zone = time_zone
        self.currency = currency
        self.now = now
        self._decoder = msgspec.json.Decoder(self.row_type)
        self.known: frozenset[str] = frozenset(self.row_type.__struct_fields__)

    def from_json(self, text: str) -> Result:
        try:
            data = self._decoder.decode(text)
        except msgspec.ValidationError as error:
            return [_problem(error)]
        except msgspec.DecodeError as error:
            return [(None, f"not a JSON object: {error}")]
        return self._checked(data)

    def from_csv(self, cells: Mapping[str, str]) -> Result:
        fields: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for name, text in cells.items():
            if text == "":
                continue  # an empty cell is a field not sent
            if name in self.date_columns:
                fields[name] = self._csv_datetime(text)
            elif name in self.known:
                fields[name] = text
            else:
                extra[name] = _csv_value(text)
        if extra:
            fields["attributes"] = extra
        try:
            data = msgspec.convert(fields, self.row_type, strict=False)
        except msgspec.ValidationError as error:
            return [_problem(error)]
        return self._checked(data)

    def _checked(self, data: Any) -> Result:
        # what the API's decoding layer checks after msgspec (lib/checks.py): the same here
        check = checker_for(self.row_type)
        if check is not None:
            try:
                check(data, "")
            except Refused as refused:
                return [(refused.path, refused.message)]
        return self.stage(data)

    def stage(self, data: Any) -> Result:
        raise NotImplementedError

    def check_header(self, header: list[str]) -> str | None:
        """Why a CSV header cannot be read, or None."""
        seen: set[str] = set()
        for name in header:
            if name in seen:
                return f"the column {name!r} appears twice in the header"
            seen.add(name)
        missing = [name for name in self.required_columns if name not in seen]
        if missing:
            return f"the header lacks {', '.join(missing)}; the first line names the columns"
        return None

    required_columns: tuple[str, ...] = ()

    def _csv_datetime(self, text: str) -> Any:
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return text  # the Struct's decoder says what is wrong, in its words
        return value if value.tzinfo is not None else value.replace(tzinfo=self.time_zone)


class CustomerRows(RowReader):
    kind = "customers"
    table = "import_customer_rows"
    columns = (
        "external_id",
        "as_of",
        "sent",
        "email",
        "phone",
        "name",
        "time_zone",
        "locale",
        "value",
        "segment",
        "customer_since",
        "attributes",
    )
    row_type = CustomerRow
    date_columns = frozenset({"as_of", "customer_since"})
    required_columns = ("external_id",)

    def stage(self, data: CustomerRow) -> Result:
        try:
            fields = validated_fields(data)
        except InvalidInput as error:
            return [(e.get("field"), str(e["message"])) for e in error.errors or []]
        fields.pop("as_of", None)
        as_of = None if data.as_of is msgspec.UNSET else data.as_of
        if as_of is not None and as_of > self.now:
            return [("as_of", f"{as_of.isoformat()} is in the future; as_of says since when a value was so")]
        return (
            data.external_id,
            as_of,
            list(fields),
            fields.get("email"),
            fields.get("phone"),
            fields.get("name"),
            fields.get("time_zone"),
            fields.get("locale"),
            fields.get("value"),
            fields.get("segment"),
            fields.get("customer_since"),
            _json(fields.get("attributes")),
        )


def _customer_ref(data: Any) -> Problem | None:
    if (data.customer_id is msgspec.UNSET) == (data.customer_external_id is msgspec.UNSET):
        return ("customer_id", "exactly one of customer_id, customer_external_id")
    return None


def _ref_values(data: Any) -> tuple[UUID | None, str | None]:
    if data.customer_id is not msgspec.UNSET:
        return data.customer_id, None
    return None, data.customer_external_id


class EventRows(RowReader):
    kind = "events"
    table = "import_event_rows"
    columns = (
        "customer_id",
        "customer_external_id",
        "kind",
        "occurred_at",
        "amount",
        "currency",
        "external_id",
    )
    row_type = EventRow
    date_columns = frozenset({"occurred_at"})
    required_columns = ("kind", "occurred_at")

    def check_header(self, header: list[str]) -> str | None:
        unknown = [name for name in header if name not in self.known]
        if unknown:
            return f"unknown column {unknown[0]!r}; the columns are {', '.join(sorted(self.known))}"
        if "customer_id" not in header and "customer_external_id" not in header:
            return "the header names neither customer_external_id nor customer_id"
        return super().check_header(header)

    def stage(self, data: EventRow) -> Result:
        problems: list[Problem] = []
        if (ref := _customer_ref(data)) is not None:
            problems.append(ref)
        problems.extend(
            (p["field"], p["message"])
            for p in event_problems(
                occurred_at=data.occurred_at,
                currency=data.currency,
                now=self.now,
                deployment_currency=self.currency,
            )
        )
        if problems:
            return problems
        customer_id, customer_external_id = _ref_values(data)
        return (
            customer_id,
            customer_external_id,
            data.kind,
            data.occurred_at,
            data.value,
            data.currency or self.currency,
            data.external_id,
        )


class InteractionRows(RowReader):
    kind = "interactions"
    table = "import_interaction_rows"
    columns = (
        "customer_id",
        "customer_external_id",
        "touchpoint",
        "occurred_at",
        "channel_preference",
        "agent",
        "external_id",
        "attributes",
    )
    row_type = InteractionRow
    date_columns = frozenset({"occurred_at"})
    required_columns = ("touchpoint", "occurred_at")

    def check_header(self, header: list[str]) -> str | None:
        if "customer_id" not in header and "customer_external_id" not in header:
            return "the header names neither customer_external_id nor customer_id"
        return super().check_header(header)

    def stage(self, data: InteractionRow) -> Result:
        if (ref := _customer_ref(data)) is not None:
            return [ref]
        customer_id, customer_external_id = _ref_values(data)
        attributes = {} if data.attributes is msgspec.UNSET else data.attributes
        for key, value in attributes.items():
            if isinstance(value, float) and not math.isfinite(value):
                return [(f"attributes.{key}", "must be a finite number")]
        return (
            customer_id,
            customer_external_id,
            data.touchpoint,
            data.occurred_at,
            data.channel_preference,
            data.agent,
            data.external_id,
            _json(attributes),
        )


READERS: Final[dict[str, type[RowReader]]] = {
    "customers": CustomerRows,
    "events": EventRows,
    "interactions": InteractionRows,
}


def reader_for(kind: ImportKind, *, time_zone: tzinfo, currency: str | None, now: datetime) -> RowReader:
    return READERS[kind](time_zone=time_zone, currency=currency, now=now)


_encoder = msgspec.json.Encoder()


def _json(value: Any) -> str | None:
    return None if value is None else _encoder.encode(value).decode()


def _problem(error: msgspec.ValidationError) -> Problem:
    field, text = _field_of(str(error))
    return (None if field == "body" else field, text)


def _csv_value(text: str) -> Any:
    """An attribute cell: a number or true/false as such, anything else as text."""
    if _NUMBER.fullmatch(text):
        number = float(text)
        return number if math.isfinite(number) else text
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return text
