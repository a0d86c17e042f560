"""The one base for wire types: unknown fields are refused, everything keyword-only."""

import msgspec


class Wire(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base for request and response bodies."""


class Problem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """RFC 9457 problem details, as every error response carries them."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[dict[str, object]] | None = None
