from datetime import UTC, datetime

import pytest

from feedback_svc.delivery.sms.gsm import gsm7_septets
from feedback_svc.i18n import SUPPORTED_LOCALES
from feedback_svc.i18n.dates import _format_local, format_moment
from feedback_svc.lib.localtime import zone_of

MOMENT = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("locale", "zone", "expected"),
    [
        ("en", "America/New_York", "Tuesday, November 24, 2026, 11:00\u202fAM EST"),
        ("de", "Europe/Berlin", "Dienstag, 24. November 2026, 17:00 MEZ"),
        ("de-AT", "Europe/Vienna", "Dienstag, 24. November 2026, 17:00 MEZ"),
        ("fr", "Europe/Paris", "mardi 24 novembre 2026, 17:00 CET"),
        ("pl", "Europe/Warsaw", "wtorek, 24 listopada 2026, 17:00 CET"),
        ("pt-BR", "America/Sao_Paulo", "terça-feira, 24 de novembro de 2026 13:00 BRT"),
        ("es", "Asia/Kolkata", "martes, 24 de noviembre de 2026, 21:30 IST"),
    ],
)
def test_a_promise_is_in_the_customers_zone_and_language(locale: str, zone: str, expected: str) -> None:
    assert format_moment(MOMENT, locale=locale, time_zone=zone) == expected


def test_an_unknown_or_missing_zone_says_utc_rather_than_failing() -> None:
    assert (
        format_moment(MOMENT, locale="de", time_zone="Mars/Olympus")
        == "Dienstag, 24. November 2026, 16:00 UTC"
    )
    assert format_moment(MOMENT, locale="en", time_zone=None).endswith("4:00\u202fPM UTC")


def test_a_zone_without_a_short_name_gets_its_offset() -> None:
    assert format_moment(MOMENT, locale="de", time_zone="Asia/Kathmandu").endswith("21:45 GMT+05:45")


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_the_compact_form_fits_an_sms(locale: str) -> None:
    text = format_moment(MOMENT, locale=locale, time_zone="Europe/Warsaw", compact=True)
    assert gsm7_septets(text) is not None, text
    assert len(text) <= 30, text
    assert "17" in text or "5:00" in text


@pytest.mark.parametrize("compact", [False, True])
def test_a_moment_reads_the_same_from_the_per_minute_cache_as_written_afresh(compact: bool) -> None:
    # the cache holds one text per (language, zone, minute): every second of a minute, the
    # hours a clock change repeats or skips, offsets of 45 minutes and of seconds (1890 in Amsterdam)
    zones = ["Europe/Berlin", "America/New_York", "Asia/Kathmandu", "America/Sao_Paulo", "Europe/Amsterdam"]
    zones.append(None)
    moments = [
        datetime(2026, 10, 25, 0, 59, 59, 999999, tzinfo=UTC),  # Berlin: 02:59 CEST
        datetime(2026, 10, 25, 1, 0, 0, tzinfo=UTC),  # Berlin: 02:00 CET, the hour again
        datetime(2026, 10, 25, 1, 30, 17, tzinfo=UTC),
        datetime(2026, 3, 29, 0, 59, 30, tzinfo=UTC),  # Berlin: just before 03:00 CEST
        datetime(2026, 11, 1, 5, 59, 1, tzinfo=UTC),  # New York: 01:59 EDT then EST
        datetime(2026, 11, 1, 6, 0, 59, tzinfo=UTC),
        datetime(2026, 11, 24, 16, 0, 30, 123, tzinfo=UTC),
        datetime(1890, 6, 1, 12, 0, 30, tzinfo=UTC),
    ]
    for locale in [*SUPPORTED_LOCALES, "pt-BR", "sv"]:
        for zone in zones:
            for moment in moments:
                cached = format_moment(moment, locale=locale, time_zone=zone, compact=compact)
                fresh = _format_local(moment.astimezone(zone_of(zone)), locale, compact)
                assert cached == fresh, (locale, zone, moment)
