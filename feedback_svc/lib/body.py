"""Strict request bodies: JSON decoded straight into a msgspec Struct.

Litestar converts bodies leniently (the string "5" becomes the number 5). A CRM
integration should learn about a wrong type on its first request, not after its
data was silently coerced, so bodies are decoded with msgspec in strict mode.
Use as `@post(..., dto=StrictBody[CustomerUpsert], return_dto=None)`; the OpenAPI schema is
the Struct's own, closed (`additionalProperties: false`) wherever msgspec refuses unknown
fields, so clients and fuzzers learn from the spec that an extra field is an error.
After msgspec, lib/checks.py checks what a type cannot say: patterns as the spec means them,
dates in the range the service handles, whole numbers that fit a bigint.
"""

import re
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

import msgspec
import msgspec.inspect as mi
from litestar.dto import MsgspecDTO
from litestar.typing import FieldDefinition

from feedback_svc.lib.checks import Refused, checker_for
from feedback_svc.lib.errors import InvalidInput, MalformedRequest

T = TypeVar("T", bound=msgspec.Struct)

_PATH = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")
_MISSING = re.compile(r"missing required field `(?P<field>[^`]+)`")


def _field_of(message: str) -> tuple[str, str]:
    """('value', 'Expected `float`, got `str`') from msgspec's error text."""
    match = _PATH.search(message)
    path = match.group("path") if match else ""
    text = message[: match.start()] if match else message
    missing = _MISSING.search(text)
    if missing:
        path = f"{path}.{missing.group('field')}" if path else missing.group("field")
    return path or "body", text


def invalid_input(error: msgspec.ValidationError) -> InvalidInput:
    field, text = _field_of(str(error))
    return InvalidInput(
        f"Check {field}: {text}.", errors=[{"field": field, "message": text, "source": "body"}]
    )


def strict_structs(model: type) -> Iterator[type[msgspec.Struct]]:
    """`model` and every Struct reachable from its fields that forbids unknown fields."""
    seen: set[type] = set()
    pending: list[mi.Type] = [mi.type_info(model)]
    while pending:
        info = pending.pop()
        match info:
            case mi.StructType(cls=struct) if struct not in seen:
                seen.add(struct)
                if info.forbid_unknown_fields:
                    yield struct
                pending.extend(field.type for field in info.fields)
            case mi.ListType() | mi.SetType() | mi.FrozenSetType() | mi.VarTupleType():
                pending.append(info.item_type)
            case mi.TupleType():
                pending.extend(info.item_types)
            case mi.UnionType():
                pending.extend(info.types)
            case mi.DictType():
                pending.extend((info.key_type, info.value_type))
            case mi.Metadata():
                pending.append(info.type)


class StrictBody(MsgspecDTO[T], Generic[T]):
    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: Any
    ) -> Any:
        schema = schema_creator.for_field_definition(FieldDefinition.from_annotation(cls.model_type))
        # Litestar's msgspec schemas leave objects open; each Struct is a component by now
        registry = schema_creator.schema_registry
        for struct in strict_structs(cls.model_type):
            reference = registry.get_reference_for_field_definition(FieldDefinition.from_annotation(struct))
            if reference is not None:
                registry.from_reference(reference).schema.additional_properties = False
        return schema

    def decode_bytes(self, value: bytes) -> Any:
        if not value:
            raise MalformedRequest("The request body is empty; send a JSON object.")
        try:
            decoded = msgspec.json.decode(value, type=self.model_type, strict=True)
        except msgspec.ValidationError as error:
            raise invalid_input(error) from None
        except msgspec.DecodeError as error:
            raise MalformedRequest(f"The body is not valid JSON: {error}.") from None
        check = checker_for(self.model_type)
        if check is not None:
            try:
                check(decoded, "")
            except Refused as refused:
                raise InvalidInput(
                    f"Check {refused.path}: {refused.message}.",
                    errors=[{"field": refused.path, "message": refused.message, "source": "body"}],
                ) from None
        return decoded


class OptionalBody(StrictBody[T], Generic[T]):
    """A strict body that may be left out: an empty body is the Struct's defaults."""

    def decode_bytes(self, value: bytes) -> Any:
        if not value.strip():
            return self.model_type()
        return super().decode_bytes(value)
