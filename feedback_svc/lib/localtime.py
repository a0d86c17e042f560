"""Times as people read them: in their own time zone, with the zone named.

Customers see promises in their time zone (customers.time_zone), console users in theirs
(users.time_zone). A zone name the zoneinfo database does not know falls back to UTC, which
the text then says, rather than failing a page.
"""

from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

UTC_NAME = "UTC"


def zone_of(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or UTC_NAME)
    except (ZoneInfoNotFoundError, ValueError):  # ValueError: not even a zone-shaped name
        return ZoneInfo(UTC_NAME)


def local_text(moment: datetime, zone: str | None) -> str:
    """'2026-11-23 14:00 CET': date and time in `zone`, with its abbreviation (or UTC offset)."""
    local = moment.astimezone(zone_of(zone))
    abbreviation = local.tzname() or ""
    if not abbreviation or abbreviation[0] in "+-":
        # zones without a lettered abbreviation (America/Sao_Paulo says "-03"): the offset reads better
        offset = local.strftime("%z")
        abbreviation = f"UTC{offset[:3]}:{offset[3:]}" if offset else UTC_NAME
    return f"{local:%Y-%m-%d %H:%M} {abbreviation}"


@cache
def time_zone_names() -> tuple[str, ...]:
    """Every zone the system's database knows, for a form's choices."""
    return tuple(sorted(available_timezones()))


def is_time_zone(name: str) -> bool:
    return name in time_zone_names()
