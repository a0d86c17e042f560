"""The dates, times and whole numbers the service accepts, and the regex dialect of its patterns.

Python's dates stop at the years 1 and 9999, and converting 0001-01-01T00:00+14:00 to UTC (as
asyncpg does before sending it) already falls off the edge; a day near either end overflows as
soon as the service adds a cooldown or a reporting window to it. So every day and instant that
comes in must lie between EARLIEST_DAY and LATEST_DAY (UTC): wide enough for any real history
or plan, far enough from the edges that no arithmetic the service does can overflow. Whole
numbers end where PostgreSQL's bigint does.

Patterns are written once and used twice: by msgspec, which runs them with Python's `re.search`,
and in the OpenAPI document, where they are ECMA-262 regular expressions. The two differ on `$`:
Python's also matches before a final newline, so `^[a-z]{2,3}$` let "en\n" through while the
spec promised otherwise. `ecma_regex` compiles a pattern with the spec's meaning, for the
decoding layer (lib/body.py) to check what msgspec let pass.
"""

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import cache

from feedback_svc.lib.errors import InvalidInput

BIGINT_MIN = -(2**63)
BIGINT_MAX = 2**63 - 1

EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2999, 12, 31)
EARLIEST = datetime.combine(EARLIEST_DAY, time.min, tzinfo=UTC)
END = datetime.combine(LATEST_DAY + timedelta(days=1), time.min, tzinfo=UTC)  # exclusive

RANGE_TEXT = f"from {EARLIEST_DAY} to {LATEST_DAY} (UTC)"


def instant_in_range(value: datetime) -> bool:
    """Whether `value` (without an offset: UTC) lies in the accepted range.

    Comparing aware datetimes never converts them, so this is safe at the very edges.
    """
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return EARLIEST <= aware < END


def day_in_range(value: date) -> bool:
    return EARLIEST_DAY <= value <= LATEST_DAY


def check_instant(value: datetime | None, *, field: str, source: str = "query") -> datetime | None:
    """`value` unchanged, or InvalidInput naming the field and the range."""
    if value is not None and not instant_in_range(value):
        raise out_of_range(field, source=source)
    return value


def check_day(value: date | None, *, field: str, source: str = "query") -> date | None:
    if value is not None and not day_in_range(value):
        raise out_of_range(field, source=source)
    return value


def out_of_range(field: str, *, source: str) -> InvalidInput:
    message = f"dates and times are accepted {RANGE_TEXT}"
    return InvalidInput(
        f"Check {field}: {message}.", errors=[{"field": field, "message": message, "source": source}]
    )


@cache
def ecma_regex(pattern: str) -> re.Pattern[str]:
    """`pattern` compiled to mean what it means in JSON Schema, for `search`.

    `$` outside a character class becomes `\\Z` (the end, never before a final newline), and
    classes like `\\d` and `\\w` are ASCII-only, as in ECMA-262 without the `u` flag.
    """
    translated: list[str] = []
    in_class = escaped = False
    for char in pattern:
        if escaped:
            translated.append(char)
            escaped = False
        elif char == "\\":
            translated.append(char)
            escaped = True
        elif in_class:
            translated.append(char)
            in_class = char != "]"
        elif char == "[":
            translated.append(char)
            in_class = True
        else:
            translated.append(r"\Z" if char == "$" else char)
    return re.compile("".join(translated), re.ASCII)
