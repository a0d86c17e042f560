"""Edge values for the contract fuzzer, where the service's 500s used to hide.

Schemathesis draws dates from the whole of 0001-9999 and integers near zero, so in a few dozen
examples per operation it rarely reaches an edge. These strategies go there on purpose:

- dates and instants at and past the ends of what Python and the service handle, with the
  largest UTC offsets (0001-01-01T00:00:00+14:00 is a year-0 instant in UTC);
- one value of a generated request swapped for a number past 64 bits, a string with a trailing
  newline (`$` in a Python pattern matches before it), or digits Python's int() takes but a
  browser never sends ("²", "٣"); a `url` for one DNS cannot carry or one that hides a private
  IPv4 address; a `customer_id` for the customer the fixture made, so that requests get past
  the lookup to the code that uses the other values;
- and a check that a JSON body its own schema refuses (JSON Schema regexes are ECMA-262, where
  `$` is the very end) is never accepted.
"""

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any
from uuid import UUID

import jsonschema_rs
from hypothesis import strategies as st
from schemathesis.specs.openapi.formats import rfc3339_values

EDGE_DAYS = ["0001-01-01", "0001-01-02", "1899-12-31", "1900-01-01", "2999-12-31", "3000-01-01", "9999-12-31"]
EDGE_INSTANTS = [
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00-23:59",
    "1899-12-31T23:59:59Z",
    "2999-12-31T23:59:59-23:00",
    "9999-12-31T23:59:59-23:59",
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31T23:59:59+14:00",
]
HUGE_INTEGERS = [2**63, -(2**63) - 1, 10**20, -(10**30)]
EDGE_URLS = [
    "http://a..b/",
    "http://.a/",
    f"http://{'a' * 64}.example/",
    "https://[2002:7f00:1::1]/",  # 6to4 around 127.0.0.1
    "https://[64:ff9b::a00:1]/",  # NAT64 around 10.0.0.1
    "https://[::ffff:7f00:1]/",
]
# a customer tests/contract/test_schemathesis.py creates in every database it fuzzes
SEEDED_CUSTOMER = UUID("5eed0000-0000-4000-8000-00000000c0de")
BY_FIELD = {"customer_id": [str(SEEDED_CUSTOMER)], "url": EDGE_URLS}
PLAUSIBLE = {
    "customer_id": str(SEEDED_CUSTOMER),
    "email": "ana@example.com",
    "phone": "+4915112345678",
    "time_zone": "Europe/Berlin",
}
# digits Python's int() and str.isdigit() accept: superscript two, Arabic-Indic three, fullwidth five
UNICODE_DIGITS = ["\u00b2", "\u0663", "\uff15"]


def edge_days() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(EDGE_DAYS), rfc3339_values("full-date"))


def plausible(value: Any) -> st.SearchStrategy[Any]:
    """`value` with, mostly, valid values in fields the service checks beyond the schema.

    A random email, phone or time zone is refused before anything else is looked at; with a
    real one most of the time, the other values of the request reach the code that uses them.
    """
    if not isinstance(value, dict) or not PLAUSIBLE.keys() & value.keys():
        return st.just(value)
    choices = {
        key: st.sampled_from([PLAUSIBLE[key], PLAUSIBLE[key], item]) if key in PLAUSIBLE else st.just(item)
        for key, item in value.items()
    }
    return st.fixed_dictionaries(choices)


def edge_instants() -> st.SearchStrategy[str]:
    widest = timedelta(hours=23, minutes=59)
    ordinary = st.builds(
        lambda moment, offset: moment.replace(tzinfo=timezone(offset)).isoformat(),
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59)),
        st.integers(-widest // timedelta(minutes=1), widest // timedelta(minutes=1)).map(
            lambda minutes: timedelta(minutes=minutes)
        ),
    )
    return st.one_of(st.sampled_from(EDGE_INSTANTS), ordinary)


def _edges_for(leaf: Any, field: Any = None) -> list[Any]:
    if field in BY_FIELD:
        return BY_FIELD[field]
    if isinstance(leaf, bool):
        return []
    if isinstance(leaf, int):
        return HUGE_INTEGERS
    if isinstance(leaf, str):
        odd = UNICODE_DIGITS if leaf.isascii() and leaf.isdigit() else []
        return [leaf + "\n", *odd, "9" * 5000 if odd else leaf + "\r\n"]
    return []


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _leaves(item, (*path, key))]
    if isinstance(value, list):
        return [leaf for index, item in enumerate(value) for leaf in _leaves(item, (*path, index))]
    return [(path, value)] if _edges_for(value, path[-1] if path else None) else []


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replaced(copy[head], rest, new)
    return copy


def one_edge(value: Any, patterned: frozenset[str] = frozenset()) -> st.SearchStrategy[Any]:
    """`value` as generated, or with one of its numbers or strings swapped for an edge value.

    Strings in `patterned` fields (a pattern in the schema) are picked more often, and then get
    a trailing newline: the one thing a Python `$` lets through that the schema's does not.
    """
    leaves = _leaves(value)
    if not leaves:
        return st.just(value)
    marked = [
        (path, leaf + "\n")
        for path, leaf in leaves
        if isinstance(leaf, str) and path and path[-1] in patterned
    ]
    swapped = st.sampled_from(leaves).flatmap(
        lambda leaf: st.sampled_from(_edges_for(leaf[1], leaf[0][-1] if leaf[0] else None)).map(
            lambda new: _replaced(value, leaf[0], new)
        )
    )
    if not marked:
        return st.one_of(st.just(value), swapped)
    newline = st.sampled_from(marked).map(lambda leaf: _replaced(value, *leaf))
    return st.one_of(st.just(value), swapped, newline)


def patterned_fields(spec: dict[str, Any], path: str, method: str) -> frozenset[str]:
    """Names of the properties with a `pattern` anywhere in an operation's JSON request body."""
    operation = spec["paths"].get(path, {}).get(method, {})
    root = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    found: set[str] = set()
    seen: set[str] = set()

    def walk(schema: Any, name: str | None) -> None:
        if isinstance(schema, list):
            for item in schema:
                walk(item, name)
            return
        if not isinstance(schema, dict):
            return
        reference = schema.get("$ref")
        if isinstance(reference, str) and reference not in seen:
            seen.add(reference)
            walk(spec["components"]["schemas"][reference.rsplit("/", 1)[1]], name)
        if "pattern" in schema and name is not None:
            found.add(name)
        for key, item in schema.get("properties", {}).items():
            walk(item, key)
        for keyword in ("oneOf", "anyOf", "allOf", "items", "additionalProperties"):
            walk(schema.get(keyword), name)

    walk(root, None)
    return frozenset(found)


def body_schema_check(spec: dict[str, Any]) -> Callable[[Any, Any, Any], bool | None]:
    """A schemathesis check: a JSON body that breaks the operation's schema must not succeed."""

    @cache
    def validator(path: str, method: str) -> Any:
        operation = spec["paths"].get(path, {}).get(method, {})
        schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            return None
        # refs point into components, so the schema is checked inside a copy of the document's
        return jsonschema_rs.validator_for({**schema, "components": spec["components"]})

    def bodies_the_schema_refuses_are_refused(ctx: Any, response: Any, case: Any) -> bool | None:
        if response.status_code >= 400 or not isinstance(case.body, dict | list):
            return None
        check = validator(case.operation.path, case.operation.method.lower())
        if check is not None and not check.is_valid(case.body):
            errors = "; ".join(str(error) for error in check.iter_errors(case.body))[:500]
            raise AssertionError(
                f"{case.operation.method.upper()} {case.operation.path} answered "
                f"{response.status_code} to a body its schema refuses: {errors}"
            )
        return None

    return bodies_the_schema_refuses_are_refused
