"""Rules for customers: contact details are validated and normalised before storage."""

import math
import re
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from uuid import UUID
from zoneinfo import available_timezones

import asyncpg
import msgspec
import phonenumbers
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from phonenumbers.phonemetadata import PhoneMetadata
from phonenumbers.phonenumberutil import _maybe_strip_national_prefix_carrier_code

from feedback_svc.customers import queries
from feedback_svc.customers.locks import erased, lock_for_write
from feedback_svc.customers.schemas import (
    MAX_ATTRIBUTES,
    Customer,
    CustomerEvent,
    CustomerEventCreate,
    CustomerPage,
    CustomerRef,
    CustomerUpsert,
    EventCreate,
)
from feedback_svc.lib.errors import Conflict, InvalidInput, NotFound


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


# The everyday address (ASCII dot-atom local part, ASCII host names, a letters-only top-level
# domain that is not reserved) normalises to itself with the domain in lower case. Checking that
# shape directly costs a microsecond where email_validator costs sixty, which is what bulk imports
# spend their time on; everything else, and every error message, is email_validator's.
# tests/unit/customers/test_email_fast_path.py holds the two to the same answers.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EVERYDAY_EMAIL = re.compile(rf"({_ATEXT}+(?:\.{_ATEXT}+)*)@((?:{_LABEL}\.)+[A-Za-z]{{2,63}})")
_RESERVED_TLDS = frozenset(SPECIAL_USE_DOMAIN_NAMES)


def normalise_email(email: str) -> str:
    """Syntax only: deliverability checks would need DNS, and bounces tell us anyway."""
    match = _EVERYDAY_EMAIL.fullmatch(email)
    if (
        match is not None
        and len(email) <= 254
        and len(match[1]) <= 64
        and len(match[2]) <= 253
        and "--" not in match[2]
        and match[2].rsplit(".", 1)[1].lower() not in _RESERVED_TLDS
    ):
        return f"{match[1]}@{match[2].lower()}"
    return validate_email(email, check_deliverability=False).normalized


def normalise_phone(phone: str) -> str:
    """E.164, so inbound SMS from the provider matches the stored number exactly."""
    if (known := _e164_as_is(phone)) is not None:
        return known
    number = phonenumbers.parse(phone, None)
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# A number already in E.164 (as CRMs mostly send them) is valid as it is, or not: parse()'s
# general handling of how people write numbers (spaces, brackets, extensions, trunk prefixes)
# has nothing to do for it, and is most of what a bulk import of customers spends its time on.
# The shortcut below takes the steps parse() takes for such a string, and leaves to parse()
# every case where one of them would change the number (a national prefix to strip, a leading
# zero to keep) and every number it does not find valid, so the answers and messages are
# phonenumbers' own. tests/unit/customers/test_phone_fast_path.py holds the two to the same answers.
_E164 = re.compile(r"\+([1-9]\d{6,16})")


def _e164_as_is(phone: str) -> str | None:
    match = _E164.fullmatch(phone)
    if match is None:
        return None
    digits = match[1]
    for length in (1, 2, 3):
        country_code = int(digits[:length])
        if country_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    national = digits[length:]
    if national.startswith("0"):
        return None
    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    if metadata is None:
        return None
    _, stripped, _ = _maybe_strip_national_prefix_carrier_code(national, metadata)
    if stripped != national:
        return None
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))
    return phone if phonenumbers.is_valid_number(number) else None


def validated_fields(data: CustomerUpsert) -> dict[str, Any]:
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
    fields = validated_fields(data)
    stored = (
        await queries.upsert_customers(conn, [(data.external_id, fields)], max_attributes=MAX_ATTRIBUTES)
    ).get(data.external_id)
    if stored is None:
        count = await queries.attribute_count_after(
            conn, external_id=data.external_id, attributes=fields["attributes"]
        )
        raise InvalidInput(
            too_many_attributes(count),
            errors=[{"field": "attributes", "message": too_many_attributes(count)}],
        )
    return stored


def too_many_attributes(count: int) -> str:
    return (
        f"the customer would have {count} attributes; at most {MAX_ATTRIBUTES} are kept per customer. "
        "Remove attributes you no longer need by sending them as null."
    )


async def get_customer(conn: asyncpg.Connection | asyncpg.Pool, customer_id: UUID) -> Customer:
    found = await queries.get_customer(conn, customer_id)
    if found is None:
        raise NotFound(f"No customer with id {customer_id}.")
    if found is True:
        raise erased(customer_id)
    assert isinstance(found, Customer)
    return found


async def resolve_customer_id(
    conn: asyncpg.Connection | asyncpg.Pool, ref: CustomerRef | EventCreate
) -> UUID:
    """Our id for a reference by either id; 404 when the CRM's id names nobody (or an erased customer)."""
    has_id = ref.customer_id is not msgspec.UNSET
    has_external = ref.customer_external_id is not msgspec.UNSET
    if has_id == has_external:
        raise InvalidInput(
            "Give exactly one of customer_id and customer_external_id.",
            errors=[{"field": "customer_id", "message": "exactly one of customer_id, customer_external_id"}],
        )
    if has_id:
        return ref.customer_id  # type: ignore[return-value]
    customer_id = await queries.customer_id_by_external_id(conn, ref.customer_external_id)  # type: ignore[arg-type]
    if customer_id is None:
        raise NotFound(
            f"No customer with external_id {ref.customer_external_id!r}; "
            "create it with POST /v1/customers first."
        )
    return customer_id


async def list_customers(
    pool: asyncpg.Pool, *, external_id: str | None, after: UUID | None, limit: int
) -> CustomerPage:
    found = await queries.list_customers(pool, external_id=external_id, after=after, limit=limit + 1)
    page = found[:limit]
    return CustomerPage(items=page, next_after=page[-1].id if len(found) > limit else None)


# the CRM's clock may run a little ahead of ours; further is a mistake (features read events as of a time)
EVENT_CLOCK_SKEW = timedelta(minutes=10)


def event_problems(
    *, occurred_at: datetime, currency: str | None, now: datetime, deployment_currency: str | None
) -> list[dict[str, str]]:
    """What is wrong with an event beyond its types (also checked for every imported row)."""
    problems = []
    if occurred_at > now + EVENT_CLOCK_SKEW:
        problems.append(
            {
                "field": "occurred_at",
                "message": f"{occurred_at.isoformat()} is in the future; report events once they happened",
            }
        )
    if deployment_currency and currency and currency != deployment_currency:
        problems.append(
            {
                "field": "currency",
                "message": f"amounts are kept in {deployment_currency} (FEEDBACK_CURRENCY); "
                f"convert this {currency} amount first",
            }
        )
    return problems


async def record_customer_event(
    conn: asyncpg.Connection,
    customer_id: UUID,
    data: CustomerEventCreate,
    *,
    now: datetime,
    deployment_currency: str | None = None,
) -> tuple[CustomerEvent, bool]:
    """Store an outcome (in the caller's transaction); (event, created). A resend with the
    same external_id returns the first event; the same id for something else is a conflict."""
    problems = event_problems(
        occurred_at=data.occurred_at, currency=data.currency, now=now, deployment_currency=deployment_currency
    )
    if problems:
        raise InvalidInput(
            "Check "
            + ", ".join(p["field"] for p in problems)
            + ": "
            + "; ".join(p["message"] for p in problems),
            errors=problems,
        )
    await lock_for_write(conn, customer_id)
    event = await queries.insert_customer_event(
        conn,
        customer_id=customer_id,
        external_id=data.external_id,
        kind=data.kind,
        occurred_at=data.occurred_at,
        value=data.value,
        currency=data.currency or deployment_currency,
    )
    if event is not None:
        return event, True
    assert data.external_id is not None  # only a duplicate external id skips the insert
    first = await queries.customer_event_by_external_id(conn, data.external_id)
    if first is None or (first.customer_id, first.kind, first.occurred_at) != (
        customer_id,
        data.kind,
        data.occurred_at,
    ):
        raise Conflict(
            f"An event with external_id {data.external_id!r} was recorded before for another customer, kind "
            "or time; use a new external_id for a new event."
        )
    return first, False
