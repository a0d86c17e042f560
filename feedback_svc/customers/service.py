"""Rules for customers: contact details are validated and normalised before storage."""

import math
from functools import lru_cache
from typing import Any
from uuid import UUID
from zoneinfo import available_timezones

import asyncpg
import msgspec
import phonenumbers
from email_validator import EmailNotValidError, validate_email

from feedback_svc.customers import queries
from feedback_svc.customers.schemas import Customer, CustomerUpsert
from feedback_svc.lib.errors import InvalidInput, NotFound


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def normalise_email(email: str) -> str:
    """Syntax only: deliverability checks would need DNS, and bounces tell us anyway."""
    return validate_email(email, check_deliverability=False).normalized


def normalise_phone(phone: str) -> str:
    """E.164, so inbound SMS from the provider matches the stored number exactly."""
    number = phonenumbers.parse(phone, None)
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _fields(data: CustomerUpsert) -> dict[str, Any]:
    """The fields the client sent, validated; raises InvalidInput naming each bad one."""
    fields = {
        name: value
        for name in CustomerUpsert.__struct_fields__
        if name != "external_id" and (value := getattr(data, name)) is not msgspec.UNSET
    }
    errors: list[dict[str, object]] = []
    if fields.get("email") is not None:
        try:
            fields["email"] = normalise_email(fields["email"])
        except EmailNotValidError as error:
            errors.append({"field": "email", "message": str(error)})
    if fields.get("phone") is not None:
        try:
            fields["phone"] = normalise_phone(fields["phone"])
        except (phonenumbers.NumberParseException, ValueError):
            errors.append(
                {
                    "field": "phone",
                    "message": f"{fields['phone']!r} is not a valid phone number; use international "
                    "format with the country code, e.g. +4915112345678",
                }
            )
    if "time_zone" in fields and fields["time_zone"] not in _time_zones():
        errors.append(
            {
                "field": "time_zone",
                "message": f"{fields['time_zone']!r} is not an IANA time zone name such as Europe/Berlin",
            }
        )
    for key, value in (fields.get("attributes") or {}).items():
        if isinstance(value, float) and not math.isfinite(value):
            errors.append({"field": f"attributes.{key}", "message": "must be a finite number"})
    if errors:
        raise InvalidInput(
            "Check "
            + ", ".join(str(e["field"]) for e in errors)
            + ": "
            + "; ".join(str(e["message"]) for e in errors),
            errors=errors,
        )
    return fields


async def upsert_customer(
    conn: asyncpg.Connection | asyncpg.Pool, data: CustomerUpsert
) -> tuple[Customer, bool]:
    return await queries.upsert_customer(conn, external_id=data.external_id, fields=_fields(data))


async def get_customer(conn: asyncpg.Connection | asyncpg.Pool, customer_id: UUID) -> Customer:
    customer = await queries.get_customer(conn, customer_id)
    if customer is None:
        raise NotFound(f"No customer with id {customer_id}.")
    return customer
