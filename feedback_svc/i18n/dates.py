"""Moments promised to a customer, in their time zone and written the way their language writes them."""

from datetime import datetime

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
    code = supported_locale(locale)
    local = moment.astimezone(zone_of(time_zone))
    if compact:
        date_text = format_skeleton("MEd", local, locale=code)
    else:
        date_text = format_date(local, "full", locale=code)
    time_text = format_time(local, "short", locale=code)
    pattern = str(Locale.parse(code).datetime_formats["medium"])
    text = pattern.replace("{1}", date_text).replace("{0}", time_text) + " " + _zone_name(local, code)
    return text.translate(_PLAIN_SPACES) if compact else text


_PLAIN_SPACES = str.maketrans({"\u202f": " ", "\u00a0": " "})


def _zone_name(local: datetime, code: str) -> str:
    # CLDR has a short name only where a language commonly uses one (MEZ, CET, EST); elsewhere
    # it answers with an offset like "+0100", and "GMT+01:00" reads better than that.
    name = get_timezone_name(local, width="short", locale=code)
    if name and name[0] not in "+-":
        return name
    abbreviation = local.tzname() or ""
    if abbreviation.isalpha() and abbreviation != "UTC":
        return abbreviation
    return get_timezone_gmt(local, width="long", locale=code)
