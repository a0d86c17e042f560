"""What the decoding layer checks after msgspec, which cannot say these things in a type.

- every string with a pattern matches it as the OpenAPI document means it (lib/bounds.ecma_regex:
  "en\\n" is not a locale),
- every date and instant lies in the range the service handles (lib/bounds: no overflow later),
- every whole number without bounds of its own fits a PostgreSQL bigint.

A checker is built once per request type from its msgspec type information, and only for the
parts that need one: a type with nothing to check costs nothing per request.
"""

from collections.abc import Callable
from datetime import date, datetime
from functools import cache
from typing import Any

import msgspec
import msgspec.inspect as mi

from feedback_svc.lib.bounds import (
    BIGINT_MAX,
    BIGINT_MIN,
    RANGE_TEXT,
    day_in_range,
    ecma_regex,
    instant_in_range,
)

Checker = Callable[[Any, str], None]


class Refused(ValueError):
    """A decoded value that is not acceptable; `path` is written like msgspec's (`items[0].at`)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{message} - at `{path or 'body'}`")
        self.path = path or "body"
        self.message = message


@cache
def checker_for(model: Any) -> Checker | None:
    """A function that raises Refused for the first unacceptable part of a decoded `model`."""
    return _Builder().checker(mi.type_info(model))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class _Builder:
    def __init__(self) -> None:
        self._structs: dict[type, Checker | None] = {}
        self._building: set[type] = set()

    def checker(self, info: mi.Type) -> Checker | None:
        while isinstance(info, mi.Metadata):
            info = info.type
        match info:
            case mi.StrType(pattern=str() as pattern):
                check: Checker | None = _pattern_checker(pattern)
            case mi.DateTimeType():
                check = _instant_checker
            case mi.DateType():
                check = _day_checker
            case mi.IntType():
                check = _int_checker(info)
            case mi.StructType():
                check = self._struct_checker(info)
            case mi.ListType() | mi.SetType() | mi.FrozenSetType() | mi.VarTupleType():
                check = _each(self.checker(info.item_type))
            case mi.DictType():
                check = _mapping(self.checker(info.key_type), self.checker(info.value_type))
            case mi.UnionType():
                check = self._union_checker(info)
            case _:
                check = None
        return check

    def _struct_checker(self, info: mi.StructType) -> Checker | None:
        cls = info.cls
        if cls in self._structs:
            return self._structs[cls]
        if cls in self._building:
            # a type that contains itself: look the finished checker up when it runs
            def later(value: Any, path: str) -> None:
                found = self._structs.get(cls)
                if found is not None:
                    found(value, path)

            return later
        self._building.add(cls)
        fields = [
            (field.name, field.encode_name, check)
            for field in info.fields
            if (check := self.checker(field.type)) is not None
        ]
        self._building.discard(cls)
        if not fields:
            self._structs[cls] = None
            return None

        def check_struct(value: Any, path: str) -> None:
            for name, shown, check in fields:
                item = getattr(value, name)
                if item is not None and item is not msgspec.UNSET:
                    check(item, _join(path, shown))

        self._structs[cls] = check_struct
        return check_struct

    def _union_checker(self, info: mi.UnionType) -> Checker | None:
        # a decoded value's Python type says which member of the union it was read as
        members = [
            (_python_type(member), check)
            for member in info.types
            if (check := self.checker(member)) is not None
        ]
        if not members:
            return None

        def check_union(value: Any, path: str) -> None:
            for kind, check in members:
                if kind is None or not isinstance(value, kind):
                    continue
                if kind is int and isinstance(value, bool):
                    continue
                check(value, path)
                return

        return check_union


# the Python type msgspec decodes each kind of value to; a datetime is a date too, so
# _day_checker looks again
_PYTHON_TYPES: dict[type, type | tuple[type, ...]] = {
    mi.StrType: str,
    mi.DateTimeType: datetime,
    mi.DateType: date,
    mi.IntType: int,
    mi.ListType: list,
    mi.SetType: (set, frozenset),
    mi.FrozenSetType: (set, frozenset),
    mi.VarTupleType: tuple,
    mi.DictType: dict,
}


def _python_type(info: mi.Type) -> type | tuple[type, ...] | None:
    while isinstance(info, mi.Metadata):
        info = info.type
    if isinstance(info, mi.StructType):
        return info.cls
    return _PYTHON_TYPES.get(type(info))


def _pattern_checker(pattern: str) -> Checker:
    regex = ecma_regex(pattern)

    def check_pattern(value: Any, path: str) -> None:
        if isinstance(value, str) and regex.search(value) is None:
            raise Refused(path, f"Expected `str` matching regex {pattern!r}")

    return check_pattern


def _instant_checker(value: Any, path: str) -> None:
    if isinstance(value, datetime) and not instant_in_range(value):
        raise Refused(path, f"Dates and times are accepted {RANGE_TEXT}")


def _day_checker(value: Any, path: str) -> None:
    if isinstance(value, date) and not isinstance(value, datetime) and not day_in_range(value):
        raise Refused(path, f"Dates are accepted {RANGE_TEXT}")


def _int_checker(info: mi.IntType) -> Checker | None:
    low = info.ge if info.ge is not None else (info.gt + 1 if info.gt is not None else None)
    high = info.le if info.le is not None else (info.lt - 1 if info.lt is not None else None)
    if low is not None and high is not None and low >= BIGINT_MIN and high <= BIGINT_MAX:
        return None  # msgspec holds it inside already

    def check_int(value: Any, path: str) -> None:
        if isinstance(value, int) and not BIGINT_MIN <= value <= BIGINT_MAX:
            raise Refused(path, f"Expected an integer from {BIGINT_MIN} to {BIGINT_MAX}")

    return check_int


def _each(check: Checker | None) -> Checker | None:
    if check is None:
        return None

    def check_items(value: Any, path: str) -> None:
        for index, item in enumerate(value):
            check(item, f"{path}[{index}]")

    return check_items


def _mapping(check_key: Checker | None, check_value: Checker | None) -> Checker | None:
    if check_key is None and check_value is None:
        return None

    def check_dict(value: Any, path: str) -> None:
        for key, item in value.items():
            where = _join(path, str(key))
            if check_key is not None:
                check_key(key, where)
            if check_value is not None and item is not None:
                check_value(item, where)

    return check_dict
