"""Moments promised to a customer, in their time zone and written the way their language writes them."""

from datetime import datetime
from functools import cache, lru_cache

from babel import Locale
from babel.dates import format_date, format_skeleton, format_time, get_timezone_gmt, get_timezone_name

from feedback_svc.i18n.catalogs import supported_locale
from feedback_svc.lib.localtime import zone_of


def format_moment(
    moment: datetime, *, locale: str | None, time_zone: str | None, compact: bool = False
) -> str:
    """'Tuesday, November 24, 2026, 5:00 PM CET' / 'Dienstag, 24. November 2026, 17:00 MEZ'.

    The zone is named because a customer may read the promise elsewhere than at home; an
    unknown `time_zone` falls back to UTC (lib.localtime.zone_of), which the text then says.
    `compact` is for SMS: 'Tue, 11/24, 5:00 PM EST', and only GSM-7 characters (CLDR puts a
    narrow no-break space before AM/PM, which would turn the message into UCS-2).
    """
    local = moment.astimezone(zone_of(time_zone))
    offset = local.utcoffset()
    if offset is not None and offset.seconds % 60 == 0 and not offset.microseconds:
        return _format_minute(locale, time_zone, int(moment.timestamp() // 60), compact)
    return _format_local(local, locale, compact)


# Every answer's thank-you page states a moment, and Babel takes ~25 µs to write one; the text
# shows no seconds, so moments in the same minute, zone and language read the same: each
# (language, zone, minute) is written once. A zone whose offset has seconds (local mean time,
# before ~1900) is left out, as its minute would not be the UTC minute's.
@lru_cache(maxsize=4096)
def _format_minute(locale: str | None, time_zone: str | None, minute: int, compact: bool) -> str:
    return _format_local(datetime.fromtimestamp(minute * 60, zone_of(time_zone)), locale, compact)


@cache
def _babel_locale(code: str) -> Locale:
    # Babel parses a locale given as text on each of the ~10 look-ups a moment takes
    return Locale.parse(code)


def _format_local(local: datetime, locale: str | None, compact: bool) -> str:
    code = supported_locale(locale)
    babel_locale = _babel_locale(code)
    if compact:
        date_text = format_skeleton("MEd", local, locale=babel_locale)
    else:
        date_text = format_date(local, "full", locale=babel_locale)
    time_text = format_time(local, "short", locale=babel_locale)
    pattern = str(babel_locale.datetime_formats["medium"])
    text = pattern.replace("{1}", date_text).replace("{0}", time_text) + " " + _zone_name(local, babel_locale)
    return text.translate(_PLAIN_SPACES) if compact else text


_PLAIN_SPACES = str.maketrans({"\u202f": " ", "\u00a0": " "})


def _zone_name(local: datetime, babel_locale: Locale) -> str:
    # CLDR has a short name only where a language commonly uses one (MEZ, CET, EST); elsewhere
    # it answers with an offset like "+0100", and "GMT+01:00" reads better than that.
    name = get_timezone_name(local, width="short", locale=babel_locale)
    if name and name[0] not in "+-":
        return name
    abbreviation = local.tzname() or ""
    if abbreviation.isalpha() and abbreviation != "UTC":
        return abbreviation
    return get_timezone_gmt(local, width="long", locale=babel_locale)
