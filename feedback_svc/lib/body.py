"""Strict request bodies: JSON decoded straight into a msgspec Struct.

Litestar converts bodies leniently (the string "5" becomes the number 5). A CRM
integration should learn about a wrong type on its first request, not after its
data was silently coerced, so bodies are decoded with msgspec in strict mode.
Use as `@post(..., dto=StrictBody[CustomerUpsert], return_dto=None)`; the OpenAPI schema is
the Struct's own.
"""

import re
from typing import Any, Generic, TypeVar

import msgspec
from litestar.dto import MsgspecDTO
from litestar.typing import FieldDefinition

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


class StrictBody(MsgspecDTO[T], Generic[T]):
    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: Any
    ) -> Any:
        return schema_creator.for_field_definition(FieldDefinition.from_annotation(cls.model_type))

    def decode_bytes(self, value: bytes) -> Any:
        if not value:
            raise MalformedRequest("The request body is empty; send a JSON object.")
        try:
            return msgspec.json.decode(value, type=self.model_type, strict=True)
        except msgspec.ValidationError as error:
            raise invalid_input(error) from None
        except msgspec.DecodeError as error:
            raise MalformedRequest(f"The body is not valid JSON: {error}.") from None
